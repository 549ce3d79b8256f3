/** Node entry: everything in the core plus the Dawn device and checkpoint files. */
export * from './index.js';
export { createNodeRuntime, getNodeRuntime } from './gpu/node-device.js';
export { saveSafetensors, loadSafetensors, writeFileAtomic } from './io/checkpoint.js';
export { loadFlowModel, saveFlowModel, type FlowModelMeta } from './io/flow-checkpoint.js';
export { readImage, writePng } from './io/image.js';
export { Dataset, dataRoot } from './io/dataset.js';
