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
   * Largest square input side (a multiple of sizeMultiple) for which every activation of one
   * evaluation fits in `bytes` (one storage binding). Attention is fused (online softmax), so
   * no tensor grows with the square of the tokens; the largest is a decoder concatenation at
   * full resolution (48 channels for the default net: 192 bytes per pixel).
   */
  maxSide(bytes: number): number {
    const m = this.sizeMultiple;
    const c = this.unet.config;
    const ch = c.channelMults.map((k) => k * c.baseChannels);
    let perPixel = c.inChannels;
    ch.forEach((ci, i) => {
      // decoder input at level i: its own channels plus the level below's (or its own skip)
      let widest = ci + Math.max(ci, ch[i + 1] ?? ci);
      if (i === ch.length - 1 && c.attention) widest = Math.max(widest, 3 * ci); // q, k, v
      perPixel = Math.max(perPixel, widest / 4 ** i);
    });
    const side = Math.floor(Math.sqrt(bytes / (4 * perPixel)) / m) * m;
    return Math.max(m, Math.min(16384, side));
  }

  /** xt, xA, xB: [N, 1, H, W]; t: N times in [0, 1]. */
  forward(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[]): Tensor {
    return this.unet.forward(concat([xt, xA, xB]), t);
  }
}
