/** Reverse-mode differentiation over the tape nodes reachable from a scalar. */
import { fillConstant } from '../kernels/fill.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { noGrad, Tensor, wrap } from './tensor.js';
import { add } from './ops.js';

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // iterative DFS: deep U-Nets would overflow a recursive one
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root.id);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (!seen.has(next.id) && (next.node || next.requiresGrad)) {
        seen.add(next.id);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

/**
 * Accumulates d(root)/d(leaf) into leaf.grad for every leaf with requiresGrad.
 * root must have one element unless a gradient of its shape is given. The tape reachable
 * from root is released afterwards.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!grad && root.size !== 1) throw new ShapeError(`backward: root ${fmtShape(root.shape)} is not a scalar; pass its gradient`);
  if (!root.node && !root.requiresGrad) throw new ShapeError('backward: the tensor does not depend on anything that requires a gradient');
  noGrad(() => {
    const order = topoOrder(root);
    const grads = new Map<number, Tensor>();
    grads.set(root.id, grad ? grad.detach() : wrap(root.rt, fillConstant(root.rt, root.shape, 1)));
    for (const t of order) {
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      if (t.node) {
        const inGrads = t.node.backward(g);
        t.node.inputs.forEach((inp, k) => {
          const ig = inGrads[k];
          if (!ig) return;
          if (!inp.node && !inp.requiresGrad) {
            ig.dispose();
            return;
          }
          const prev = grads.get(inp.id);
          if (prev) {
            grads.set(inp.id, add(prev, ig));
            prev.dispose();
            ig.dispose();
          } else grads.set(inp.id, ig);
        });
        t.node = null;
        g.dispose();
      } else if (t.requiresGrad) {
        if (t.grad) {
          const sum = add(t.grad, g).keep();
          t.grad.dispose();
          g.dispose();
          t.grad = sum;
        } else t.grad = g.keep();
      } else g.dispose();
    }
  });
}
