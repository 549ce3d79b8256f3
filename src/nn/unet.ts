/** A configurable U-Net with time conditioning: the backbone of FusionFM and of the diffusion baseline. */
import { add, concat } from '../autograd/ops.js';
import { silu, withNormWindow } from '../autograd/ops.js';
import { isGradEnabled, tidy, type Tensor } from '../autograd/tensor.js';
import { knob } from '../kernels/program.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { Downsample, ResBlock, SelfAttention2d, TimeEmbedding, Upsample } from './blocks.js';
import { Conv2d, GroupNorm, groupsFor } from './layers.js';
import { Module } from './module.js';

export interface UNetConfig {
  inChannels: number;
  outChannels: number;
  /** channels at full resolution */
  baseChannels: number;
  /** channel multiplier per level; the number of levels is its length */
  channelMults: number[];
  blocksPerLevel: number;
  /** self-attention at the lowest resolution */
  attention: boolean;
  heads: number;
  groups: number;
  /** null: no time input (a plain U-Net) */
  timeDim: number | null;
  upsample: 'nearest' | 'bilinear';
}

export const DEFAULT_UNET: UNetConfig = {
  inChannels: 3,
  outChannels: 1,
  baseChannels: 32,
  channelMults: [1, 2, 4],
  blocksPerLevel: 1,
  attention: true,
  heads: 4,
  groups: 8,
  timeDim: 64,
  upsample: 'nearest',
};

/**
 * One stage of a forward: without gradient it runs in a scope of its own, so that its
 * intermediates are freed when it ends, and then frees `dead` (its inputs that no later stage
 * reads); a forward then holds about its live tensors instead of everything it made until the
 * caller's scope ends. With a gradient the tape needs them all, and nothing is freed early.
 * Knob FFM_FORWARD_STAGES=0 turns it off.
 */
function stage(f: () => Tensor, ...dead: (Tensor | null)[]): Tensor {
  if (isGradEnabled() || knob('FFM_FORWARD_STAGES') === 0) return f();
  const y = tidy(f);
  for (const t of dead) if (t && t !== y) t.dispose();
  return y;
}

export class UNet extends Module {
  readonly convIn: Conv2d;
  readonly time: TimeEmbedding | null;
  readonly down: { blocks: ResBlock[]; downsample: Downsample | null }[] = [];
  readonly mid1: ResBlock;
  readonly midAttn: SelfAttention2d | null;
  readonly mid2: ResBlock;
  readonly up: { blocks: ResBlock[]; upsample: Upsample | null }[] = [];
  readonly normOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(readonly config: UNetConfig) {
    super();
    const c = config;
    if (!c.channelMults.length) throw new ShapeError('UNet: channelMults must name at least one level');
    const ch = c.channelMults.map((m) => m * c.baseChannels);
    const tdim = c.timeDim ? 4 * c.timeDim : null;
    this.time = c.timeDim ? this.child('time', new TimeEmbedding(c.timeDim, tdim!)) : null;
    this.convIn = this.child('conv_in', new Conv2d(c.inChannels, ch[0]!));
    const skips: number[] = [ch[0]!];
    let cur = ch[0]!;
    ch.forEach((co, i) => {
      const blocks: ResBlock[] = [];
      for (let b = 0; b < c.blocksPerLevel; b++) {
        blocks.push(this.child(`down.${i}.block.${b}`, new ResBlock(cur, co, tdim, c.groups)));
        cur = co;
        skips.push(cur);
      }
      const last = i === ch.length - 1;
      const downsample = last ? null : this.child(`down.${i}.downsample`, new Downsample(cur));
      if (downsample) skips.push(cur);
      this.down.push({ blocks, downsample });
    });
    this.mid1 = this.child('mid.block1', new ResBlock(cur, cur, tdim, c.groups));
    this.midAttn = c.attention ? this.child('mid.attn', new SelfAttention2d(cur, c.heads, c.groups)) : null;
    this.mid2 = this.child('mid.block2', new ResBlock(cur, cur, tdim, c.groups));
    for (let i = ch.length - 1; i >= 0; i--) {
      const blocks: ResBlock[] = [];
      for (let b = 0; b < c.blocksPerLevel + 1; b++) {
        const skip = skips.pop()!;
        blocks.push(this.child(`up.${i}.block.${b}`, new ResBlock(cur + skip, ch[i]!, tdim, c.groups)));
        cur = ch[i]!;
      }
      const upsample = i === 0 ? null : this.child(`up.${i}.upsample`, new Upsample(cur, c.upsample));
      this.up.push({ blocks, upsample });
    }
    this.normOut = this.child('norm_out', new GroupNorm(groupsFor(cur, c.groups), cur));
    this.convOut = this.child('conv_out', new Conv2d(cur, c.outChannels, { initGain: 0.1 }));
  }

  /** Height and width must be multiples of this. */
  get sizeMultiple(): number {
    return 2 ** (this.config.channelMults.length - 1);
  }

  /** Width of the time embedding the ResBlocks take (null without time conditioning): what `cond` adds to. */
  get embeddingDim(): number | null {
    return this.config.timeDim ? 4 * this.config.timeDim : null;
  }

  /**
   * x: [N, inChannels, H, W]; t: N times in [0, 1] (ignored without time conditioning); cond: an
   * optional [N, embeddingDim] added to the time embedding before its activation (class or task
   * conditioning, as class-conditional diffusion U-Nets add a label embedding).
   */
  forward(x: Tensor, t: readonly number[] | null = null, cond: Tensor | null = null): Tensor {
    // group norm statistics by windows of FFM_NORM_WINDOW input pixels (ops.withNormWindow; 0: over the whole map), over the caller's setting
    const normWindow = knob('FFM_NORM_WINDOW');
    if (normWindow !== undefined && x.shape.length === 4) return withNormWindow(normWindow > 0 ? normWindow / x.shape[3]! : null, () => this.forwardNet(x, t, cond));
    return this.forwardNet(x, t, cond);
  }

  private forwardNet(x: Tensor, t: readonly number[] | null, cond: Tensor | null): Tensor {
    const c = this.config;
    const m = this.sizeMultiple;
    if (x.shape.length !== 4 || x.shape[1] !== c.inChannels || x.shape[2]! % m || x.shape[3]! % m) {
      throw new ShapeError(`UNet: input must be [N, ${c.inChannels}, H, W] with H and W multiples of ${m}, got ${fmtShape(x.shape)}`);
    }
    let temb: Tensor | null = null;
    if (this.time) {
      if (!t || t.length !== x.shape[0]) throw new ShapeError(`UNet: expected ${x.shape[0]} time values, got ${t ? t.length : 'none'}`);
      const e = this.time.forward(t);
      if (cond && (cond.shape.length !== 2 || cond.shape[0] !== x.shape[0] || cond.shape[1] !== e.shape[1])) {
        throw new ShapeError(`UNet: the conditioning must be [${x.shape[0]}, ${e.shape[1]}], got ${fmtShape(cond.shape)}`);
      }
      temb = silu(cond ? add(e, cond) : e); // every block takes silu(temb): computed once here
    } else if (cond) {
      throw new ShapeError('UNet: conditioning needs a time embedding to add to (timeDim is null)');
    }
    let h = this.convIn.forward(x);
    const skips: Tensor[] = [h];
    for (const level of this.down) {
      for (const b of level.blocks) {
        h = stage(() => b.forward(h, temb, true)); // its input stays: a skip
        skips.push(h);
      }
      if (level.downsample) {
        h = level.downsample.forward(h);
        skips.push(h);
      }
    }
    h = stage(() => this.mid1.forward(h, temb, true)); // its input is the last skip
    if (this.midAttn) h = stage(() => this.midAttn!.forward(h), h);
    h = stage(() => this.mid2.forward(h, temb, true), h);
    for (const level of this.up) {
      for (const b of level.blocks) {
        const skip = skips.pop()!;
        h = stage(() => b.forward(concat([h, skip]), temb, true), h, skip);
      }
      if (level.upsample) h = stage(() => level.upsample!.forward(h), h);
    }
    return stage(() => this.convOut.forwardOfNormed(this.normOut, h), h);
  }

  /** Multiply-adds of one forward pass per output pixel (convs, attention, linear layers), for reports. */
  flopsPerPixel(height = 256, width = 256): number {
    let macs = 0;
    const c = this.config;
    const ch = c.channelMults.map((mm) => mm * c.baseChannels);
    const px = (level: number) => (height * width) / 4 ** level;
    const conv = (ci: number, co: number, k: number, level: number) => (macs += ci * co * k * k * px(level));
    const res = (ci: number, co: number, level: number) => {
      conv(ci, co, 3, level);
      conv(co, co, 3, level);
      if (ci !== co) conv(ci, co, 1, level);
    };
    conv(c.inChannels, ch[0]!, 3, 0);
    const skips = [ch[0]!];
    let cur = ch[0]!;
    ch.forEach((co, i) => {
      for (let b = 0; b < c.blocksPerLevel; b++) {
        res(cur, co, i);
        cur = co;
        skips.push(cur);
      }
      if (i < ch.length - 1) {
        conv(cur, cur, 3, i + 1);
        skips.push(cur);
      }
    });
    const low = ch.length - 1;
    res(cur, cur, low);
    if (c.attention) {
      const n = px(low);
      conv(cur, 3 * cur, 1, low);
      conv(cur, cur, 1, low);
      macs += 2 * n * n * cur; // QK^T and PV
    }
    res(cur, cur, low);
    for (let i = ch.length - 1; i >= 0; i--) {
      for (let b = 0; b < c.blocksPerLevel + 1; b++) {
        res(cur + skips.pop()!, ch[i]!, i);
        cur = ch[i]!;
      }
      if (i > 0) conv(cur, cur, 3, i - 1);
    }
    conv(cur, c.outChannels, 3, 0);
    return (2 * macs) / (height * width);
  }
}
