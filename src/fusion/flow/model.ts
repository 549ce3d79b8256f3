/**
 * The velocity field v_theta(t, x_t; xA, xB): a U-Net on the concatenation [x_t, xA, xB] of
 * luminance planes with a sinusoidal time embedding in every ResBlock and self-attention at
 * the lowest resolution. Output: one velocity plane.
 */
import { concat } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tensor.js';
import { UNet, type UNetConfig } from '../../nn/unet.js';
import { Module } from '../../nn/module.js';

/** The U-Net settings a velocity field may choose (its inputs, output and time input are fixed). */
export type VelocityConfig = Omit<UNetConfig, 'inChannels' | 'outChannels' | 'upsample' | 'timeDim'> & { timeDim: number };

/** Lightweight default: 16 -> 32 -> 64 channels, one block per level. */
export const DEFAULT_VELOCITY: VelocityConfig = {
  baseChannels: 16,
  channelMults: [1, 2, 4],
  blocksPerLevel: 1,
  attention: true,
  heads: 4,
  groups: 8,
  timeDim: 32,
};

export function unetConfig(c: VelocityConfig): UNetConfig {
  return { inChannels: 3, outChannels: 1, upsample: 'nearest', ...c };
}

export class VelocityNet extends Module {
  readonly unet: UNet;
  constructor(readonly config: VelocityConfig = DEFAULT_VELOCITY) {
    super();
    this.unet = this.child('unet', new UNet(unetConfig(config)));
  }

  get sizeMultiple(): number {
    return this.unet.sizeMultiple;
  }

  /**
   * Largest square input side (a multiple of sizeMultiple) whose attention matrix
   * (heads x T x T floats, T tokens at the lowest level) stays within `bytes`: attention over
   * all pixels is quadratic, so larger images are fused in tiles.
   */
  maxSide(bytes: number): number {
    const m = this.sizeMultiple;
    if (!this.config.attention) return 4096;
    const tokensPerSide = Math.floor((bytes / (4 * this.config.heads)) ** 0.25);
    return Math.max(m, Math.min(4096, tokensPerSide * m));
  }

  /** xt, xA, xB: [N, 1, H, W]; t: N times in [0, 1]. */
  forward(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[]): Tensor {
    return this.unet.forward(concat([xt, xA, xB]), t);
  }
}
