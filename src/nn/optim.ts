/** AdamW over a parameter list, with global-norm gradient clipping and an optional EWC penalty. */
import { zeros } from '../autograd/create.js';
import type { Tensor } from '../autograd/tensor.js';
import { adamwStep, type EwcTerm } from '../kernels/adamw.js';
import { sumSquaresInto, sumSquaresParts } from '../kernels/reduce.js';
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

export class AdamW {
  private m = new Map<Parameter, Tensor>();
  private v = new Map<Parameter, Tensor>();
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
  }

  /**
   * The global L2 norm of all gradients: one sum-of-squares dispatch per gradient, each writing
   * its chunk sums into one shared buffer, read back once per step and added in float64.
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
    const values = await parts.data();
    parts.dispose();
    let total = 0;
    for (const x of values) total += x;
    return Math.sqrt(total);
  }

  /**
   * Applies one update from the accumulated gradients; returns the gradient norm. The norm is
   * read back every step, with or without clipping: one NaN or infinite gradient would otherwise
   * turn every weight into NaN, silently. Such a step is refused (an error naming the step) and
   * leaves the weights, moments and step count as they were.
   */
  async step(): Promise<number> {
    const norm = await this.gradNorm();
    if (!Number.isFinite(norm)) throw new Error(`AdamW: gradient norm is ${norm} at step ${this.stepCount + 1}; refusing to update the weights`);
    this.stepCount++;
    const scale = this.clipNorm !== undefined && norm > this.clipNorm ? this.clipNorm / norm : 1;
    for (const p of this.params) {
      if (!p.grad) continue;
      const [m, v] = this.moments(p);
      let ewc: EwcTerm | undefined;
      const f = this.ewc?.fisher.get(p);
      const a = this.ewc?.anchor.get(p);
      if (this.ewc && f && a) ewc = { fisher: f.storage, anchor: a.storage, lambda: this.ewc.lambda };
      adamwStep(p.rt, p.size, p.storage, m.storage, v.storage, p.grad.storage, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount, gradScale: scale,
      }, ewc);
    }
    return norm;
  }

  /** The first and second moment of a parameter, created (zero) on first use. */
  private moments(p: Parameter): [Tensor, Tensor] {
    let m = this.m.get(p);
    let v = this.v.get(p);
    if (!m || !v) {
      m = zeros(p.shape).keep();
      v = zeros(p.shape).keep();
      this.m.set(p, m);
      this.v.set(p, v);
    }
    return [m, v];
  }

  /** Moment estimates by parameter index (live tensors: writing them restores a checkpoint). */
  state(): { m: Tensor[]; v: Tensor[]; step: number } {
    const mv = this.params.map((p) => this.moments(p));
    return { m: mv.map((x) => x[0]), v: mv.map((x) => x[1]), step: this.stepCount };
  }

  /**
   * Zeroes the moment estimates and the step count (bias correction starts again), as a fresh
   * optimiser would; the moment tensors are kept, so state() and checkpoints see the same ones.
   */
  resetMoments(): void {
    const { m, v } = this.state();
    for (const t of [...m, ...v]) t.write(new Float32Array(t.size));
    this.stepCount = 0;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Linear warm-up then cosine decay to minLr. */
export function warmupCosine(step: number, total: number, warmup: number, maxLr: number, minLr = 0): number {
  if (step < warmup) return (maxLr * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * p));
}
