/** Exponential moving average of parameters, kept on the GPU: ema <- d * ema + (1 - d) * p. */
import { add, affine } from '../../autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../../nn/module.js';

export class Ema {
  readonly shadow: Tensor[];
  constructor(readonly params: Parameter[], readonly decay: number) {
    this.shadow = noGrad(() => params.map((p) => affine(p, 1, 0).keep()));
  }

  update(): void {
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          const s = this.shadow[i]!;
          const next = add(affine(s, this.decay, 0), affine(p, 1 - this.decay, 0));
          p.rt.copy(next.storage, 0, s.storage, 0, s.size * 4);
        });
      }),
    );
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }
}
