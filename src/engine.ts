/**
 * The compute engine alone (browser-safe): WebGPU runtime, WGSL kernels, autograd, nn layers,
 * optimizers, safetensors. `fusionfm` (src/index.ts) adds FusionFM on top of it.
 */
export { createRuntime, GpuRuntime, Storage, NO_ADAPTER_HELP, type AdapterDescription, type RuntimeOptions } from './gpu/runtime.js';
export type { KernelTime } from './gpu/profiler.js';
export { Tensor, useRuntime, runtime, tidy, scope, noGrad, isGradEnabled } from './autograd/tensor.js';
export { tensor, scalar, zeros, ones, full, randn, rand } from './autograd/create.js';
export { backward } from './autograd/backward.js';
export * as ops from './autograd/ops.js';
export { Module, withInitSeed, type Parameter } from './nn/module.js';
export { Conv2d, Linear, GroupNorm, LayerNorm } from './nn/layers.js';
export { ResBlock, SelfAttention2d, TimeEmbedding, Downsample, Upsample, timestepEmbedding } from './nn/blocks.js';
export { UNet, DEFAULT_UNET, type UNetConfig } from './nn/unet.js';
export { AdamW, warmupCosine, type AdamWOptions } from './nn/optim.js';
export { encodeSafetensors, decodeSafetensors, type HostTensor } from './nn/safetensors.js';
export { stateDict, loadStateDict } from './nn/state.js';
export { ShapeError, LimitError, DeviceError, InputError } from './util/errors.js';
export { SeededRng, uniformAt, normalAt } from './util/rng.js';
export { estimateFisher, mergeEwc, normaliseFisher, type EwcState } from './nn/fisher.js';
