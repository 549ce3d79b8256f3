/**
 * fusionfm core: browser-safe (no Node built-ins, WGSL bundled as strings): the engine
 * (src/engine.ts) and FusionFM on top of it.
 * In Node, import 'fusionfm/node' for the Dawn device and file helpers.
 */
export * from './engine.js';
export { makeImage, toRgba8, type Image } from './fusion/image.js';
export { VelocityNet, DEFAULT_VELOCITY, type VelocityConfig } from './fusion/flow/model.js';
export { fuseImages, fuseLuminance, type FuseOptions } from './fusion/flow/fuse.js';
export { decodeFlowModel, encodeFlowModel, FLOW_FORMAT, type FlowModelMeta, type LoadedFlowModel } from './fusion/flow/model-file.js';
// browser only (createImageBitmap, OffscreenCanvas): a File or Blob into an Image
export { decodeImageInBrowser } from './io/image-browser.js';
export { fuseClassical, classicalNames } from './fusion/classical/index.js';
export { METRICS, getMetric, metricInput } from './fusion/metrics/index.js';
export { DEFAULT_WEIGHTS as SELECTION_WEIGHTS, SELECTION_METRICS } from './fusion/pseudo/selection.js';
