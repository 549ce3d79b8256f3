/** AdamW over a parameter list, with global-norm gradient clipping and an optional EWC penalty. */
import { zeros } from '../autograd/create.js';
import type { Tensor } from '../autograd/tensor.js';
import type { Storage } from '../gpu/runtime.js';
import { adamwStep, adamwStepFlat, type AdamWHyper, type EwcTerm } from '../kernels/adamw.js';
import { knob } from '../kernels/program.js';
import { sumSquaresInto, sumSquaresParts } from '../kernels/reduce.js';
import { FlatLayout, type FlatSegment } from './flat.js';
import type { Parameter } from './module.js';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** clip the global gradient norm to this value (the norm is read back every step either way) */
  clipNorm?: number;
}

/** EWC anchors and Fisher diagonals per parameter, applied inside the update kernel. */
export interface EwcPenalty {
  lambda: number;
  fisher: Map<Parameter, Tensor>;
  anchor: Map<Parameter, Tensor>;
}

/**
 * AdamW with its moments in two flat buffers (FlatLayout), one segment per parameter. When every
 * parameter has a gradient, a step is one dispatch for the norm and one for the update: the
 * gradients and weights are gathered into flat buffers by copies (two more parameter-sized
 * buffers) and the new weights scattered back. On lavapipe the per-parameter form's 300
 * dispatches cost 36 ms against 8 ms of the FusionFM net's step quiet, 104 against 26 ms beside
 * two training jobs (bench/results/optim-step-*). Otherwise, and with knob FFM_ADAMW_FLAT=0, one
 * dispatch per parameter as before. Both forms compute the same update.
 */
export class AdamW {
  private readonly layout: FlatLayout;
  private readonly m: Tensor;
  private readonly v: Tensor;
  /** the flat path's gathered weights and gradients (and EWC terms), made on its first step */
  private flat: { params: Tensor; grads: Tensor; parts: Tensor; fisher?: Tensor; anchor?: Tensor } | null = null;
  stepCount = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly clipNorm: number | undefined;
  ewc: EwcPenalty | null = null;

  constructor(readonly params: Parameter[], opts: AdamWOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.clipNorm = opts.clipNorm;
    this.layout = new FlatLayout(params.map((p) => p.shape));
    this.m = this.layout.alloc();
    this.v = this.layout.alloc();
  }

  /**
   * The global L2 norm of all gradients: one sum-of-squares dispatch per gradient, each writing
   * its chunk sums into one shared buffer, read back once and added in float64.
   */
  async gradNorm(): Promise<number> {
    const withGrad = this.params.filter((p) => p.grad);
    const offsets: number[] = [];
    let count = 0;
    for (const p of withGrad) {
      offsets.push(count);
      count += sumSquaresParts(p.grad!.size);
    }
    if (count === 0) return 0;
    const parts = zeros([count]);
    for (const [i, p] of withGrad.entries()) sumSquaresInto(p.rt, p.grad!, parts.storage, offsets[i]!);
    const norm = await normOf(parts);
    parts.dispose();
    return norm;
  }

  /**
   * Applies one update from the accumulated gradients; returns the gradient norm. The norm is
   * read back every step, with or without clipping: one NaN or infinite gradient would otherwise
   * turn every weight into NaN, silently. Such a step is refused (an error naming the step) and
   * leaves the weights, moments and step count as they were.
   */
  async step(): Promise<number> {
    const ewc = this.ewcTerms();
    const flat = this.params.length > 0 && this.params.every((p) => p.grad) && ewc !== null && knob('FFM_ADAMW_FLAT') !== 0;
    return flat ? this.stepFlat(ewc) : this.stepEach();
  }

  /** One dispatch per parameter (parameters without a gradient are left alone). */
  private async stepEach(): Promise<number> {
    const norm = this.checkedNorm(await this.gradNorm());
    const hyper = this.hyper(norm);
    for (const [i, p] of this.params.entries()) {
      if (!p.grad) continue;
      let ewc: EwcTerm | undefined;
      const f = this.ewc?.fisher.get(p);
      const a = this.ewc?.anchor.get(p);
      if (this.ewc && f && a) ewc = { fisher: f.storage, anchor: a.storage, lambda: this.ewc.lambda };
      adamwStep(p.rt, p.size, p.storage, this.m.storage, this.v.storage, p.grad.storage, hyper, ewc, this.layout.offsets[i]!);
    }
    return norm;
  }

  /** Every parameter in one dispatch: gradients and weights gathered, new weights scattered back. */
  private async stepFlat(ewc: { fisher: Storage[]; anchor: Storage[] } | 'none'): Promise<number> {
    const rt = this.params[0]!.rt;
    const f = (this.flat ??= { params: this.layout.alloc(), grads: this.layout.alloc(), parts: zeros([sumSquaresParts(this.layout.size)]).keep() });
    this.layout.gather(rt, this.params.map((p) => p.grad!.storage), f.grads);
    sumSquaresInto(rt, f.grads, f.parts.storage, 0);
    const norm = this.checkedNorm(await normOf(f.parts));
    const hyper = this.hyper(norm);
    this.layout.gather(rt, this.params.map((p) => p.storage), f.params);
    let term: EwcTerm | undefined;
    if (ewc !== 'none') {
      f.fisher ??= this.layout.alloc();
      f.anchor ??= this.layout.alloc();
      this.layout.gather(rt, ewc.fisher, f.fisher);
      this.layout.gather(rt, ewc.anchor, f.anchor);
      term = { fisher: f.fisher.storage, anchor: f.anchor.storage, lambda: this.ewc!.lambda };
    }
    adamwStepFlat(rt, this.layout.size, f.params.storage, this.m.storage, this.v.storage, f.grads.storage, hyper, term);
    this.layout.scatter(rt, f.params, this.params.map((p) => p.storage));
    return norm;
  }

  /**
   * The EWC terms of every parameter for the flat step: 'none' without EWC, null where some
   * parameter has none (then the per-parameter step applies the penalty where it has them).
   */
  private ewcTerms(): { fisher: Storage[]; anchor: Storage[] } | 'none' | null {
    if (!this.ewc) return 'none';
    const fisher: Storage[] = [];
    const anchor: Storage[] = [];
    for (const p of this.params) {
      const [f, a] = [this.ewc.fisher.get(p), this.ewc.anchor.get(p)];
      if (!f || !a) return null;
      fisher.push(f.storage);
      anchor.push(a.storage);
    }
    return { fisher, anchor };
  }

  /** The norm, refused when not finite (nothing has been written yet); counts the step. */
  private checkedNorm(norm: number): number {
    if (!Number.isFinite(norm)) throw new Error(`AdamW: gradient norm is ${norm} at step ${this.stepCount + 1}; refusing to update the weights`);
    this.stepCount++;
    return norm;
  }

  private hyper(norm: number): AdamWHyper {
    const gradScale = this.clipNorm !== undefined && norm > this.clipNorm ? this.clipNorm / norm : 1;
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount, gradScale };
  }

  /** Moment estimates by parameter index (live segments of the flat moments: writing them restores a checkpoint). */
  state(): { m: FlatSegment[]; v: FlatSegment[]; step: number } {
    const seg = (flat: Tensor) => this.params.map((_, i) => this.layout.segment(flat, i));
    return { m: seg(this.m), v: seg(this.v), step: this.stepCount };
  }

  /**
   * Zeroes the moment estimates and the step count (bias correction starts again), as a fresh
   * optimiser would.
   */
  resetMoments(): void {
    for (const t of [this.m, this.v]) t.write(new Float32Array(t.size));
    this.stepCount = 0;
  }

  dispose(): void {
    for (const t of [this.m, this.v]) t.dispose();
    if (this.flat) for (const t of [this.flat.params, this.flat.grads, this.flat.parts, this.flat.fisher, this.flat.anchor]) t?.dispose();
    this.flat = null;
  }
}

/** The square root of the float64 sum of a buffer of partial sums of squares. */
async function normOf(parts: Tensor): Promise<number> {
  let total = 0;
  for (const x of await parts.data()) total += x;
  return Math.sqrt(total);
}

/** Linear warm-up then cosine decay to minLr. */
export function warmupCosine(step: number, total: number, warmup: number, maxLr: number, minLr = 0): number {
  if (step < warmup) return (maxLr * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * p));
}
