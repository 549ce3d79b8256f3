/** The flow-matching objective: || v_theta(t, x_t; xA, xB) - (x1 - x0) ||^2 at t ~ U[0, 1]. */
import { tensor } from '../../autograd/create.js';
import { affine, mseLoss, mul, reshape, square, sub, sum } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tensor.js';
import { ShapeError } from '../../util/errors.js';
import { flowSource, interpolate, type Coupling } from './path.js';
import type { VelocityNet } from './model.js';

/**
 * xA, xB, x1: [N, 1, H, W]; t: one time per sample. `margin` > 0 leaves that many pixels at each
 * border of the crop out of the loss: the net sees them as context (its zero padding lies
 * beyond them), as it does at inference, where fusion reflects context around the image.
 */
export function flowMatchingLoss(net: VelocityNet, xA: Tensor, xB: Tensor, x1: Tensor, t: readonly number[], coupling: Coupling, seed = 0, margin = 0): Tensor {
  const x0 = flowSource(coupling, xA, xB, seed);
  const tt = reshape(tensor(t, [t.length]), [t.length, 1, 1, 1]);
  const xt = interpolate(x0, x1, tt);
  const pred = net.forward(xt, xA, xB, t);
  if (margin <= 0) return mseLoss(pred, sub(x1, x0));
  const [N, , H, W] = x1.shape as [number, number, number, number];
  if (2 * margin >= Math.min(H, W)) throw new ShapeError(`flowMatchingLoss: margin ${margin} leaves nothing of a ${H}x${W} crop`);
  const mask = new Float32Array(H * W);
  for (let y = margin; y < H - margin; y++) mask.fill(1, y * W + margin, (y + 1) * W - margin);
  const inside = (H - 2 * margin) * (W - 2 * margin);
  return affine(sum(mul(square(sub(pred, sub(x1, x0))), tensor(mask, [1, 1, H, W]))), 1 / (N * inside), 0);
}
