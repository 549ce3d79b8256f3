/** Basic layers: Conv2d, Linear, GroupNorm, LayerNorm. */
import { add, conv2d, groupNorm, groupNormSilu, groupNormSiluConv2d, layerNorm, matmul, reshape } from '../autograd/ops.js';
import type { Tensor } from '../autograd/tensor.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { Module, onesInit, uniformInit, zerosInit, type Parameter } from './module.js';

export interface Conv2dConfig {
  kernel?: 1 | 3;
  stride?: 1 | 2;
  /** default: (kernel - 1) / 2, which keeps the size at stride 1 */
  pad?: number;
  bias?: boolean;
  /** scales the initial weights (0 gives a zero-initialised layer, e.g. a residual branch's last conv) */
  initGain?: number;
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: number;
  readonly pad: number;

  constructor(readonly inChannels: number, readonly outChannels: number, cfg: Conv2dConfig = {}) {
    super();
    const k = cfg.kernel ?? 3;
    this.stride = cfg.stride ?? 1;
    this.pad = cfg.pad ?? (k - 1) / 2;
    const fanIn = inChannels * k * k;
    this.weight = this.param('weight', uniformInit([outChannels, inChannels, k, k], fanIn, cfg.initGain ?? 1));
    this.bias = cfg.bias === false ? null : this.param('bias', uniformInit([outChannels], fanIn, cfg.initGain ?? 1));
  }

  /**
   * `shift` ([N, outChannels]) is added per sample and channel, `residual` (the output's shape)
   * per element: both inside the convolution's output loop, not as separate passes.
   */
  forward(x: Tensor, extra: { shift?: Tensor; residual?: Tensor } = {}): Tensor {
    return conv2d(x, this.weight, this.biasWith(extra.shift), { stride: this.stride, pad: this.pad }, extra.residual ?? null);
  }

  /** forward(norm.forwardSilu(x), extra), the normalisation folded into the convolution where it can be (groupNormSiluConv2d). */
  forwardOfNormed(norm: GroupNorm, x: Tensor, extra: { shift?: Tensor; residual?: Tensor } = {}): Tensor {
    return groupNormSiluConv2d(x, norm.groups, norm.weight, norm.bias, norm.eps, this.weight, this.biasWith(extra.shift), { stride: this.stride, pad: this.pad }, extra.residual ?? null);
  }

  /** The bias, plus a per-sample shift [N, outChannels] where one is given. */
  private biasWith(shift: Tensor | undefined): Tensor | null {
    if (!shift) return this.bias;
    return this.bias ? add(shift, reshape(this.bias, [1, this.outChannels])) : shift;
  }
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.weight = this.param('weight', uniformInit([outFeatures, inFeatures], inFeatures));
    this.bias = bias ? this.param('bias', uniformInit([outFeatures], inFeatures)) : null;
  }

  /** x: [B, in] -> [B, out] (PyTorch weight layout [out, in]). */
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures) {
      throw new ShapeError(`Linear: input must be [B, ${this.inFeatures}], got ${fmtShape(x.shape)}`);
    }
    const y = matmul(x, this.weight, false, true);
    if (!this.bias) return y;
    return add(y, this.bias);
  }
}

export class GroupNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(readonly groups: number, readonly channels: number, readonly eps = 1e-5) {
    super();
    if (channels % groups !== 0) throw new ShapeError(`GroupNorm: ${channels} channels cannot be split into ${groups} groups`);
    this.weight = this.param('weight', onesInit([channels]));
    this.bias = this.param('bias', zerosInit([channels]));
  }

  forward(x: Tensor): Tensor {
    return groupNorm(x, this.groups, this.weight, this.bias, this.eps);
  }

  /** silu(forward(x)) in one pass: the activation fused into the normalisation's output kernel. */
  forwardSilu(x: Tensor): Tensor {
    return groupNormSilu(x, this.groups, this.weight, this.bias, this.eps);
  }
}

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(readonly features: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', onesInit([features]));
    this.bias = this.param('bias', zerosInit([features]));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** [B, C] -> [B, C, 1, 1], for adding per-channel vectors to feature maps. */
export function asChannelMap(v: Tensor): Tensor {
  return reshape(v, [v.shape[0]!, v.shape[1]!, 1, 1]);
}

/** Largest group count <= wanted that divides channels (GroupNorm needs an exact split). */
export function groupsFor(channels: number, wanted: number): number {
  for (let g = Math.min(wanted, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}
