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

  /** xt, xA, xB: [N, 1, H, W]; t: N times in [0, 1]. */
  forward(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[]): Tensor {
    return this.unet.forward(concat([xt, xA, xB]), t);
  }
}
