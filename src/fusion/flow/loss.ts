/**
 * The flow-matching objective: || v_theta(t, x_t; xA, xB) - (x1 - x0) ||^2 at t ~ U[0, 1], with
 * optional edge (against the label's) and texture (against the sharper source's) terms on the
 * one-step prediction x0 + v_theta.
 */
import { tensor } from '../../autograd/create.js';
import { abs, add, affine, conv2d, mean, mseLoss, mul, reshape, square, sub, sum } from '../../autograd/ops.js';
import { noGrad, type Tensor } from '../../autograd/tensor.js';
import { ShapeError } from '../../util/errors.js';
import { flowSource, interpolate, type Coupling } from './path.js';
import type { VelocityNet } from './model.js';

export interface FlowLossOptions {
  /** noise seed of the gaussian coupling (default 0) */
  seed?: number;
  /**
   * > 0 leaves that many pixels at each border of the crop out of the squared error: the net sees
   * them as context (its zero padding lies beyond them), as it does at inference, where fusion
   * reflects context around the image
   */
  margin?: number;
  /**
   * weight of the edge term: the mean absolute Sobel gradient (x and y) of the one-step
   * prediction's error x0 + v - x1, which is the velocity's error, over the pixels the squared
   * error counts (the crop without its margin and without its outermost pixel, where Sobel has no neighbours).
   * Squared error alone forgives a blurred edge more than a shifted mean; this term asks for the
   * label's edges, which Qabf and the gradient metrics judge. 0 (default): plain flow matching.
   */
  gradWeight?: number;
  /**
   * weight of the texture term: the mean absolute difference between the Sobel gradient
   * magnitudes (x and y apart) of the one-step prediction x0 + v and the larger of the two
   * sources' at each pixel, over the pixels the edge term counts. The edge term asks for the
   * label's edges; this one asks for the sharper source's, which a label from one fuser can lose
   * (the max fuser drops the visible image's edges where the infrared is brighter) and which
   * Qabf, SF and AG reward. 0 (default): none.
   */
  textureWeight?: number;
  /** each sample's task, for a task-conditioned net (others ignore it) */
  task?: string | readonly string[];
  /**
   * per sample: true puts its x_t on the straight path from x0 to the net's own one-step
   * prediction (evaluated without gradient) instead of the path to the label; the target stays
   * x1 - x0. A k-step solve queries the net at such states (x_t = x0 + t v(0)), which the label's
   * path never shows it. Measured with half of each batch on it (held-out pairs, 400 steps per
   * task; bench/results/sequence-vs-joint/): the results stop depending on k, but medical fusion
   * at k = 1 lost 0.018, so the bundled recipe does not use it. Absent or all false: plain flow
   * matching.
   */
  ownPath?: readonly boolean[];
  /**
   * per sample, the weight of the choice term (absent or all 0: none): the squared error of the
   * blend head's hard choice between the sources (VelocityNet.forwardWithChoice: its weight logit
   * sharpened, no residual) against the label, over the pixels the squared error counts. For
   * tasks whose labels copy source pixels (a per-pixel maximum, a focus decision map), so that the
   * weight map itself becomes a selection that fusing by the choice alone can use. Blend head only.
   */
  choiceWeight?: readonly number[];
}

/** Sobel x and y as a [2, 1, 3, 3] conv weight (scaled by 1/8: unit response to a unit ramp). */
const SOBEL = Float32Array.from([-1, 0, 1, -2, 0, 2, -1, 0, 1, -1, -2, -1, 0, 0, 0, 1, 2, 1].map((v) => v / 8));

/** xA, xB, x1: [N, 1, H, W]; t: one time per sample. */
export function flowMatchingLoss(net: VelocityNet, xA: Tensor, xB: Tensor, x1: Tensor, t: readonly number[], coupling: Coupling, opts: FlowLossOptions = {}): Tensor {
  const { seed = 0, margin = 0, gradWeight = 0, textureWeight = 0, task, ownPath, choiceWeight } = opts;
  const x0 = flowSource(coupling, xA, xB, seed);
  const N = t.length;
  if (ownPath && ownPath.length !== N) throw new ShapeError(`flowMatchingLoss: ownPath has ${ownPath.length} entries for ${N} samples`);
  const tt = reshape(tensor(t, [N]), [N, 1, 1, 1]);
  const xt = interpolate(x0, ownPath?.some(Boolean) ? ownPathEnd(net, x0, xA, xB, x1, ownPath, task) : x1, tt);
  if (choiceWeight && choiceWeight.length !== N) throw new ShapeError(`flowMatchingLoss: choiceWeight has ${choiceWeight.length} entries for ${N} samples`);
  const withChoice = choiceWeight?.some((w) => w > 0) ?? false;
  const { v: pred, choice } = withChoice ? net.forwardWithChoice(xt, xA, xB, t, x0, task) : { v: net.forward(xt, xA, xB, t, x0, task), choice: undefined };
  if (withChoice && !choice) throw new ShapeError("flowMatchingLoss: the choice term needs a net with a blend head (blend, blend2 or pyramid)");
  const target = sub(x1, x0);
  const [, , H, W] = target.shape as [number, number, number, number];
  if (2 * margin >= Math.min(H, W)) throw new ShapeError(`flowMatchingLoss: margin ${margin} leaves nothing of a ${H}x${W} crop`);
  const pixelMean = (x: Tensor) => (margin <= 0 ? mean(x) : maskedMean(x, margin));
  let loss = margin <= 0 ? mseLoss(pred, target) : maskedMean(square(sub(pred, target)), margin);
  if (withChoice && choice) {
    const w = reshape(tensor(choiceWeight!, [N]), [N, 1, 1, 1]);
    loss = add(loss, pixelMean(mul(square(sub(choice, x1)), w)));
  }
  // the valid (unpadded) Sobel map is 1 px smaller on each side, so the margin's pixels are margin - 1 of it
  const sobelMean = (x: Tensor) => (margin <= 1 ? mean(x) : maskedMean(x, margin - 1));
  if (gradWeight > 0) loss = add(loss, affine(sobelMean(abs(sobel(sub(pred, target)))), gradWeight, 0));
  if (textureWeight > 0) {
    const sharper = noGrad(() => maxOf(abs(sobel(xA)), abs(sobel(xB))));
    loss = add(loss, affine(sobelMean(abs(sub(abs(sobel(add(x0, pred))), sharper))), textureWeight, 0));
  }
  return loss;
}

/** Sobel x and y of [N, 1, H, W] without padding: [N, 2, H - 2, W - 2]. */
function sobel(x: Tensor): Tensor {
  return conv2d(x, tensor(SOBEL, [2, 1, 3, 3]), null, { pad: 0 });
}

/** The elementwise maximum of a and b, as (a + b + |a - b|) / 2. */
function maxOf(a: Tensor, b: Tensor): Tensor {
  return affine(add(add(a, b), abs(sub(a, b))), 0.5, 0);
}

/** Per sample, the end of the path its x_t lies on: the net's one-step prediction where ownPath says so, else the label. */
function ownPathEnd(net: VelocityNet, x0: Tensor, xA: Tensor, xB: Tensor, x1: Tensor, ownPath: readonly boolean[], task?: string | readonly string[]): Tensor {
  const N = ownPath.length;
  return noGrad(() => {
    const own = add(x0, net.forward(x0, xA, xB, new Array<number>(N).fill(0), x0, task));
    const pick = reshape(tensor(ownPath.map((o) => (o ? 1 : 0)), [N]), [N, 1, 1, 1]);
    return add(x1, mul(pick, sub(own, x1)));
  });
}

/** The mean of x: [N, C, H, W] over its interior, `margin` pixels in from every border. */
function maskedMean(x: Tensor, margin: number): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const mask = new Float32Array(H * W);
  for (let y = margin; y < H - margin; y++) mask.fill(1, y * W + margin, (y + 1) * W - margin);
  const inside = (H - 2 * margin) * (W - 2 * margin);
  return affine(sum(mul(x, tensor(mask, [1, 1, H, W]))), 1 / (N * C * inside), 0);
}
