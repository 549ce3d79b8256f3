/** The blocks a diffusion/flow U-Net is made of: time embedding, ResBlock, attention, down/up sampling. */
import { tensor } from '../autograd/create.js';
import { add, attention, ATTENTION_MAX_HEAD_DIM, reshape, silu, slice, upsample2x, windowedAttention } from '../autograd/ops.js';
import { isGradEnabled, type Tensor } from '../autograd/tensor.js';
import { knob } from '../util/knob.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { Conv2d, GroupNorm, groupsFor, Linear } from './layers.js';
import { Module } from './module.js';

/**
 * Sinusoidal embedding of scalar times (Vaswani et al., as used by DDPM):
 * [sin(1000 t f_k), cos(1000 t f_k)] with f_k = 10000^(-k / (dim/2 - 1)). The factor 1000 makes
 * t in [0, 1] span the same phases as integer diffusion steps in [0, 1000).
 * Computed on the host, where t is known.
 */
export function timestepEmbedding(t: readonly number[], dim: number): Tensor {
  return tensor(sinusoidalEmbedding(t, dim), [t.length, dim]);
}

/** The host values of timestepEmbedding, [t.length, dim] row-major. */
export function sinusoidalEmbedding(t: readonly number[], dim: number): Float32Array {
  if (dim % 2 !== 0 || dim < 2) throw new ShapeError(`timestepEmbedding: dim must be even and >= 2, got ${dim}`);
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  t.forEach((tv, b) => {
    for (let k = 0; k < half; k++) {
      const freq = Math.exp((-Math.log(10000) * k) / Math.max(1, half - 1));
      const arg = 1000 * tv * freq;
      out[b * dim + k] = Math.sin(arg);
      out[b * dim + half + k] = Math.cos(arg);
    }
  });
  return out;
}

/** Time embedding MLP: sinusoidal(dim) -> Linear -> SiLU -> Linear. */
export class TimeEmbedding extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(readonly dim: number, readonly outDim: number) {
    super();
    this.fc1 = this.child('fc1', new Linear(dim, outDim));
    this.fc2 = this.child('fc2', new Linear(outDim, outDim));
  }
  forward(t: readonly number[]): Tensor {
    const e = timestepEmbedding(t, this.dim);
    return this.fc2.forward(silu(this.fc1.forward(e)));
  }
}

/** GroupNorm-SiLU-Conv twice, the time embedding added in between, and a (1x1 when needed) skip. */
export class ResBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly temb: Linear | null;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly skip: Conv2d | null;

  constructor(readonly inChannels: number, readonly outChannels: number, timeDim: number | null, groups = 8) {
    super();
    this.norm1 = this.child('norm1', new GroupNorm(groupsFor(inChannels, groups), inChannels));
    this.conv1 = this.child('conv1', new Conv2d(inChannels, outChannels));
    this.temb = timeDim ? this.child('temb', new Linear(timeDim, outChannels)) : null;
    this.norm2 = this.child('norm2', new GroupNorm(groupsFor(outChannels, groups), outChannels));
    // the residual branch starts near zero so a deep stack begins close to the identity
    this.conv2 = this.child('conv2', new Conv2d(outChannels, outChannels, { initGain: 0.1 }));
    this.skip = inChannels === outChannels ? null : this.child('skip', new Conv2d(inChannels, outChannels, { kernel: 1 }));
  }

  /**
   * `temb` is the time embedding; `tembActivated` says it is already silu(temb) (a U-Net
   * computes that once for all its blocks instead of once per block).
   */
  forward(x: Tensor, temb: Tensor | null, tembActivated = false): Tensor {
    let shift: Tensor | undefined;
    if (this.temb) {
      if (!temb) throw new ShapeError('ResBlock: this block takes a time embedding');
      shift = this.temb.forward(tembActivated ? temb : silu(temb)); // [N, outChannels], added inside conv1
    }
    // each norm + SiLU is folded into its convolution's input where no gradient is taken (Conv2d.forwardOfNormed)
    const h = this.conv1.forwardOfNormed(this.norm1, x, { shift });
    // the skip path is added inside conv2's output loop
    return this.conv2.forwardOfNormed(this.norm2, h, { residual: this.skip ? this.skip.forward(x) : x });
  }
}

/** Multi-head self-attention over the pixels of a feature map, pre-norm, residual. */
export class SelfAttention2d extends Module {
  readonly norm: GroupNorm;
  readonly qkv: Conv2d;
  readonly proj: Conv2d;
  /**
   * In a forward without gradient, attention within square windows of this many tokens a side
   * (windowedAttention) instead of over the whole map; null: the whole map. Knob
   * FFM_ATTN_WINDOW=<tokens> sets it for every block (0: the whole map).
   */
  window: number | null = null;

  constructor(readonly channels: number, readonly heads = 4, groups = 8) {
    super();
    if (channels % heads !== 0) throw new ShapeError(`SelfAttention2d: ${channels} channels cannot be split into ${heads} heads`);
    this.norm = this.child('norm', new GroupNorm(groupsFor(channels, groups), channels));
    this.qkv = this.child('qkv', new Conv2d(channels, 3 * channels, { kernel: 1 }));
    this.proj = this.child('proj', new Conv2d(channels, channels, { kernel: 1, initGain: 0.1 }));
  }

  forward(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== this.channels) {
      throw new ShapeError(`SelfAttention2d: input must be [N, ${this.channels}, H, W], got ${fmtShape(x.shape)}`);
    }
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const dh = C / this.heads;
    const qkv = this.qkv.forward(this.norm.forward(x));
    // channels are grouped per head, so [N, heads*dh, HW] views as [N*heads, dh, HW]
    const q = reshape(slice(qkv, 0, C), [N * this.heads, dh, H * W]);
    const k = reshape(slice(qkv, C, C), [N * this.heads, dh, H * W]);
    const v = reshape(slice(qkv, 2 * C, C), [N * this.heads, dh, H * W]);
    const scale = 1 / Math.sqrt(dh);
    // 'auto': scores materialised while small, else fused (online softmax, memory linear in HW); heads wider than the fused kernel holds are always materialised
    const side = isGradEnabled() ? null : (knob('FFM_ATTN_WINDOW') ?? this.window);
    const o = side ? windowedAttention(q, k, v, scale, H, W, side) : attention(q, k, v, scale, dh <= ATTENTION_MAX_HEAD_DIM ? 'auto' : 'dense');
    return add(x, this.proj.forward(reshape(o, [N, C, H, W])));
  }
}

/** 2x downsampling by a stride-2 3x3 convolution. */
export class Downsample extends Module {
  readonly conv: Conv2d;
  constructor(channels: number) {
    super();
    this.conv = this.child('conv', new Conv2d(channels, channels, { stride: 2 }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

/** 2x upsampling (nearest or bilinear) followed by a 3x3 convolution. */
export class Upsample extends Module {
  readonly conv: Conv2d;
  constructor(channels: number, readonly mode: 'nearest' | 'bilinear' = 'nearest') {
    super();
    this.conv = this.child('conv', new Conv2d(channels, channels));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(upsample2x(x, this.mode));
  }
}
