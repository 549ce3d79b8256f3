/**
 * FusionFM model files on disk (Node): the format lives in fusion/flow/model-file.ts, shared
 * with the browser; this adds the atomic write and the missing-file error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { decodeFlowModel, encodeFlowModel, type FlowModelMeta, type LoadedFlowModel } from '../fusion/flow/model-file.js';
import type { HostTensor } from '../nn/safetensors.js';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from './checkpoint.js';

export { FLOW_FORMAT, type FlowModelMeta, type LoadedFlowModel } from '../fusion/flow/model-file.js';

export function saveFlowModel(path: string, weights: Map<string, HostTensor>, meta: FlowModelMeta): void {
  writeFileAtomic(path, encodeFlowModel(weights, meta));
}

export function loadFlowModel(path: string, task?: string): LoadedFlowModel {
  if (!existsSync(path)) throw new InputError(`${path}: checkpoint file not found`);
  return decodeFlowModel(new Uint8Array(readFileSync(path)), path, task);
}
