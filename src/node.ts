/** Node entry: everything in the core plus the Dawn device and checkpoint files. */
export * from './index.js';
export { createNodeRuntime, getNodeRuntime } from './gpu/node-device.js';
export { saveSafetensors, loadSafetensors, writeFileAtomic } from './io/checkpoint.js';
