/**
 * Flow matching from the sources (FusionFM): the flow starts at x0 built from the source
 * luminances and runs straight to the fused target x1: x_t = (1 - t) x0 + t x1, whose
 * velocity is the constant x1 - x0. Images are in [0, 1].
 *
 * Couplings (the source distribution), selectable for the ablation:
 * - `sum` (default, the paper's): x0 = xA + xB. In [0, 2]; no rescaling is applied because
 *   the network sees xA and xB as conditions and learns the (bounded) velocity x1 - x0 in
 *   [-2, 1]; one Euler step lands on x0 + v.
 * - `average`: x0 = (xA + xB) / 2, in [0, 1] like the target.
 * - `gaussian`: x0 ~ N(0, I), the usual generative flow from noise (conditioned on xA, xB).
 */
import { randn } from '../../autograd/create.js';
import { add, affine, expand, mul, sub } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tensor.js';
import { InputError } from '../../util/errors.js';

export const COUPLINGS = ['sum', 'average', 'gaussian'] as const;
export type Coupling = (typeof COUPLINGS)[number];

export function checkCoupling(c: string): Coupling {
  if (!(COUPLINGS as readonly string[]).includes(c)) throw new InputError(`unknown coupling '${c}'; expected ${COUPLINGS.join(', ')}`);
  return c as Coupling;
}

/** The flow's starting point for sources xA, xB ([N, 1, H, W] each). `seed` feeds the gaussian coupling (one draw per entry, or with sharedNoise one for all: sharedNoise). */
export function flowSource(coupling: Coupling, xA: Tensor, xB: Tensor, seed = 0, opts: { sharedNoise?: boolean } = {}): Tensor {
  if (coupling === 'sum') return add(xA, xB);
  if (coupling === 'average') return affine(add(xA, xB), 0.5, 0);
  return opts.sharedNoise ? sharedNoise(xA.shape, seed) : randn(xA.shape, seed);
}

/**
 * Gaussian noise of `shape` whose batch entries are all one draw: the first entry's, which a batch
 * of one draws from the seed. What fusion gives its tiles (each evaluated alone, every tile drew
 * it), so that tiles evaluated together fuse as they do one at a time.
 */
export function sharedNoise(shape: readonly number[], seed: number): Tensor {
  const one = randn([1, ...shape.slice(1)], seed);
  if (shape[0] === 1) return one;
  const all = expand(one, shape);
  one.dispose();
  return all;
}

/** x_t = (1 - t) x0 + t x1 with one t per sample (t: [N, 1, 1, 1]). */
export function interpolate(x0: Tensor, x1: Tensor, t: Tensor): Tensor {
  return add(x0, mul(t, sub(x1, x0)));
}
