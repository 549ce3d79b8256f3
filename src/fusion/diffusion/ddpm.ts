/**
 * The diffusion baseline that FusionFM is compared against (DDFM-style conditional DDPM): the
 * same U-Net, given [x_t, xA, xB], predicts the noise of x_t = sqrt(ab_t) x + sqrt(1 - ab_t) eps,
 * x the fused target mapped to [-1, 1]; 1000 steps, linear betas 1e-4 .. 0.02 (Ho et al.).
 * The network's time input is t / T, so the time embedding sees the same [0, 1] range as in
 * flow matching and the architecture is unchanged.
 */
import { randn, tensor } from '../../autograd/create.js';
import { add, affine, mseLoss, mul, reshape } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { VelocityNet } from '../flow/model.js';

export const DDPM_STEPS = 1000;

/** Cumulative products of (1 - beta_t), t = 0 .. T-1, in float64. */
export function alphaBars(T = DDPM_STEPS, beta0 = 1e-4, beta1 = 0.02): Float64Array {
  const ab = new Float64Array(T);
  let p = 1;
  for (let t = 0; t < T; t++) {
    p *= 1 - (beta0 + ((beta1 - beta0) * t) / (T - 1));
    ab[t] = p;
  }
  return ab;
}

const AB = alphaBars();

/** Noise-prediction loss for a batch; t: one integer step in [0, T) per sample; x1 in [0, 1]; task: for a task-conditioned net. */
export function ddpmLoss(net: VelocityNet, xA: Tensor, xB: Tensor, x1: Tensor, t: readonly number[], seed = 0, task?: string | readonly string[]): Tensor {
  const n = t.length;
  const coef = (f: (ab: number) => number) => reshape(tensor(t.map((s) => f(AB[s]!)), [n]), [n, 1, 1, 1]);
  const eps = randn(x1.shape, seed);
  const xt = add(mul(coef((ab) => Math.sqrt(ab)), affine(x1, 2, -1)), mul(coef((ab) => Math.sqrt(1 - ab)), eps));
  return mseLoss(net.forward(xt, xA, xB, t.map((s) => s / DDPM_STEPS), undefined, task), eps);
}
