/**
 * FusionFM model files: safetensors whose metadata names the format, the task(s), the
 * velocity-net configuration and the coupling, so a file is self-describing and a wrong one
 * is refused with a reason (missing, corrupt, another architecture, another task).
 */
import { VelocityNet, type VelocityConfig } from '../fusion/flow/model.js';
import { checkCoupling, type Coupling } from '../fusion/flow/path.js';
import { withInitSeed } from '../nn/module.js';
import type { HostTensor } from '../nn/safetensors.js';
import { loadStateDict } from '../nn/state.js';
import { InputError } from '../util/errors.js';
import { loadSafetensors, saveSafetensors } from './checkpoint.js';

export const FLOW_FORMAT = 'fusionfm-flow/1';

export interface FlowModelMeta {
  tasks: string[];
  config: VelocityConfig;
  coupling: Coupling;
  /** free-form provenance: command, seed, steps, data hash */
  provenance: Record<string, string | number>;
}

export function saveFlowModel(path: string, weights: Map<string, HostTensor>, meta: FlowModelMeta): void {
  saveSafetensors(path, weights, {
    format: FLOW_FORMAT,
    tasks: meta.tasks.join(','),
    config: JSON.stringify(meta.config),
    coupling: meta.coupling,
    provenance: JSON.stringify(meta.provenance),
  });
}

export interface LoadedFlowModel {
  net: VelocityNet;
  meta: FlowModelMeta;
}

export function loadFlowModel(path: string, task?: string): LoadedFlowModel {
  const { tensors, metadata } = loadSafetensors(path);
  if (metadata.format !== FLOW_FORMAT) {
    throw new InputError(`${path}: not a FusionFM model (format '${metadata.format ?? 'none'}', expected '${FLOW_FORMAT}')`);
  }
  let config: VelocityConfig;
  try {
    config = JSON.parse(metadata.config ?? '');
  } catch {
    throw new InputError(`${path}: the model configuration in the file's metadata is not valid JSON`);
  }
  const tasks = (metadata.tasks ?? '').split(',').filter(Boolean);
  if (task && !tasks.includes(task)) throw new InputError(`${path}: the model was trained for ${tasks.join(', ') || 'no task'}, not '${task}'`);
  const net = withInitSeed(0, () => new VelocityNet(config));
  try {
    loadStateDict(net, tensors, path);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return { net, meta: { tasks, config, coupling: checkCoupling(metadata.coupling ?? 'sum'), provenance: JSON.parse(metadata.provenance ?? '{}') } };
}
