/** Exponential moving average of parameters, kept on the GPU: ema <- d * ema + (1 - d) * p. */
import { add, affine } from '../../autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../../nn/module.js';

export class Ema {
  readonly shadow: Tensor[];
  constructor(readonly params: Parameter[], readonly decay: number) {
    this.shadow = noGrad(() => params.map((p) => affine(p, 1, 0).keep()));
  }

  /** One update; `decay` overrides the configured decay for this update (the warm-up schedule). */
  update(decay = this.decay): void {
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          const s = this.shadow[i]!;
          const next = add(affine(s, decay, 0), affine(p, 1 - decay, 0));
          p.rt.copy(next.storage, 0, s.storage, 0, s.size * 4);
        });
      }),
    );
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
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
