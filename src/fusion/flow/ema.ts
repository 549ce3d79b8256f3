/**
 * Exponential moving average of parameters, kept on the GPU: ema <- d * ema + (1 - d) * p. The
 * averages live in one flat buffer (FlatLayout): an update gathers the weights by copies and
 * runs three dispatches over all of them, not three per parameter.
 */
import { add, affine } from '../../autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../../autograd/tensor.js';
import { FlatLayout, type FlatSegment } from '../../nn/flat.js';
import type { Parameter } from '../../nn/module.js';

export class Ema {
  /** the average of parameter i (live: writing it sets the average) */
  readonly shadow: FlatSegment[];
  private readonly layout: FlatLayout;
  private readonly average: Tensor;
  private readonly weights: Tensor;

  constructor(readonly params: Parameter[], readonly decay: number) {
    this.layout = new FlatLayout(params.map((p) => p.shape));
    this.average = this.layout.alloc();
    this.weights = this.layout.alloc();
    this.shadow = params.map((_, i) => this.layout.segment(this.average, i));
    if (params.length) this.layout.gather(params[0]!.rt, params.map((p) => p.storage), this.average);
  }

  /** One update; `decay` overrides the configured decay for this update (the warm-up schedule). */
  update(decay = this.decay): void {
    if (!this.params.length) return;
    const rt = this.params[0]!.rt;
    this.layout.gather(rt, this.params.map((p) => p.storage), this.weights);
    noGrad(() =>
      tidy(() => {
        const next = add(affine(this.average, decay, 0), affine(this.weights, 1 - decay, 0));
        rt.copy(next.storage, 0, this.average.storage, 0, this.layout.size * 4);
      }),
    );
  }

  dispose(): void {
    this.average.dispose();
    this.weights.dispose();
  }
}

/**
 * The warm-up schedule of the EMA decay, n updates after a (phase) start: min(d, (1 + n) / (10 + n)).
 * The first update keeps a tenth of the old average, so the average restarts from the current
 * weights, and its window then grows with the phase (about n / 10 updates) up to the configured one:
 * a fixed 0.995 over a 150-step task would still hold 47% of the weights from before the task.
 */
export function emaWarmupDecay(decay: number, n: number): number {
  return Math.min(decay, (1 + n) / (10 + n));
}
