/**
 * FusionFM model files as bytes (browser-safe): safetensors whose metadata names the format,
 * the task(s), the velocity-net configuration and the coupling, so a file is self-describing
 * and a wrong one is refused with a reason. The Node file helpers (io/flow-checkpoint.ts) and
 * the web page read the same files through this module.
 */
import { decodeSafetensors, encodeSafetensors, type HostTensor } from '../../nn/safetensors.js';
import { withInitSeed } from '../../nn/module.js';
import { loadStateDict } from '../../nn/state.js';
import { InputError } from '../../util/errors.js';
import { checkConditionTasks, checkGateApplies, checkHead, isBlendHead, VelocityNet, type VelocityConfig } from './model.js';
import { checkCoupling, type Coupling } from './path.js';

export const FLOW_FORMAT = 'fusionfm-flow/1';

/** What the network predicts: the flow's velocity (FusionFM) or the DDPM baseline's noise. */
export type Objective = 'flow' | 'ddpm';

export interface FlowModelMeta {
  tasks: string[];
  config: VelocityConfig;
  coupling: Coupling;
  /** absent in files written before the diffusion baseline existed: 'flow' */
  objective?: Objective;
  /** free-form provenance: command, seed, steps, data hash */
  provenance: Record<string, string | number>;
}

export interface LoadedFlowModel {
  net: VelocityNet;
  meta: FlowModelMeta;
}

export function encodeFlowModel(weights: Map<string, HostTensor>, meta: FlowModelMeta): Uint8Array {
  return encodeSafetensors(weights, {
    format: FLOW_FORMAT,
    tasks: meta.tasks.join(','),
    config: JSON.stringify(meta.config),
    coupling: meta.coupling,
    objective: meta.objective ?? 'flow',
    provenance: JSON.stringify(meta.provenance),
  });
}

/** A model from a file's bytes; `source` names the file in errors; `task`, when given, must be one the model was trained for. */
export function decodeFlowModel(bytes: Uint8Array, source: string, task?: string): LoadedFlowModel {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== FLOW_FORMAT) {
    throw new InputError(`${source}: not a FusionFM model (format '${metadata.format ?? 'none'}', expected '${FLOW_FORMAT}')`);
  }
  let config: VelocityConfig;
  try {
    config = JSON.parse(metadata.config ?? '');
  } catch {
    throw new InputError(`${source}: the model configuration in the file's metadata is not valid JSON`);
  }
  const objective = metadata.objective ?? 'flow';
  if (objective !== 'flow' && objective !== 'ddpm') throw new InputError(`${source}: unknown objective '${objective}' (expected flow or ddpm)`);
  if (config.head !== undefined) checkHead(config.head, `${source}: the model configuration`);
  if (config.sourceGate !== undefined) {
    const g = config.sourceGate;
    if (typeof g !== 'number' || !(g >= 0 && g <= 1)) throw new InputError(`${source}: the model configuration's sourceGate must be a number in [0, 1], got ${JSON.stringify(g)}`);
    checkGateApplies(g, objective, metadata.coupling ?? 'sum', source);
  }
  if (config.tasks !== undefined) checkConditionTasks(config.tasks, `${source}: the model configuration`);
  if (config.choiceTrained !== undefined && (!Array.isArray(config.choiceTrained) || config.choiceTrained.some((t) => typeof t !== 'string'))) {
    throw new InputError(`${source}: the model configuration's choiceTrained must be a list of task names, got ${JSON.stringify(config.choiceTrained)}`);
  }
  if (isBlendHead(config.head) && objective === 'ddpm') throw new InputError(`${source}: a '${config.head}' head cannot predict the noise of a ddpm model`);
  const tasks = (metadata.tasks ?? '').split(',').filter(Boolean);
  if (task && !tasks.includes(task)) throw new InputError(`${source}: the model was trained for ${tasks.join(', ') || 'no task'}, not '${task}'`);
  const net = withInitSeed(0, () => new VelocityNet(config));
  try {
    loadStateDict(net, tensors, source);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return { net, meta: { tasks, config, coupling: checkCoupling(metadata.coupling ?? 'sum'), objective, provenance: JSON.parse(metadata.provenance ?? '{}') } };
}
