/**
 * The 2.7 M-parameter U-Net that the engine benchmarks measure against their peers (PyTorch,
 * ONNX Runtime, TF.js) and profile: one definition, so every bench times the same network.
 */
import type { UNetConfig } from '../../src/nn/unet.js';

export const PEER_UNET: UNetConfig = { inChannels: 3, outChannels: 3, baseChannels: 32, channelMults: [1, 2, 4], blocksPerLevel: 1, attention: true, heads: 4, groups: 8, timeDim: 64, upsample: 'nearest' };
