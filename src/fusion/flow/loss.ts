/** The flow-matching objective: || v_theta(t, x_t; xA, xB) - (x1 - x0) ||^2 at t ~ U[0, 1]. */
import { tensor } from '../../autograd/create.js';
import { mseLoss, reshape, sub } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tensor.js';
import { flowSource, interpolate, type Coupling } from './path.js';
import type { VelocityNet } from './model.js';

/** xA, xB, x1: [N, 1, H, W]; t: one time per sample. */
export function flowMatchingLoss(net: VelocityNet, xA: Tensor, xB: Tensor, x1: Tensor, t: readonly number[], coupling: Coupling, seed = 0): Tensor {
  const x0 = flowSource(coupling, xA, xB, seed);
  const tt = reshape(tensor(t, [t.length]), [t.length, 1, 1, 1]);
  const xt = interpolate(x0, x1, tt);
  return mseLoss(net.forward(xt, xA, xB, t), sub(x1, x0));
}
