/**
 * Integrating dx/dt = v(t, x; xA, xB) from t = 0 (the flow source) to t = 1 (the fused image)
 * in k steps: Euler (default; k = 1 is a single network evaluation), midpoint or RK4.
 */
import { add, affine } from '../../autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../../autograd/tensor.js';
import { InputError } from '../../util/errors.js';
import type { VelocityNet } from './model.js';

export const SOLVERS = ['euler', 'midpoint', 'rk4'] as const;
export type Solver = (typeof SOLVERS)[number];

/** Network evaluations of one solve. */
export function evaluations(solver: Solver, steps: number): number {
  return steps * (solver === 'euler' ? 1 : solver === 'midpoint' ? 2 : 4);
}

/** task: what a task-conditioned net fuses for (others ignore it). */
export function integrate(net: VelocityNet, x0: Tensor, xA: Tensor, xB: Tensor, steps = 1, solver: Solver = 'euler', task?: string): Tensor {
  if (!Number.isInteger(steps) || steps < 1) throw new InputError(`steps must be a positive integer, got ${steps}`);
  if (!(SOLVERS as readonly string[]).includes(solver)) throw new InputError(`unknown solver '${solver}'; expected ${SOLVERS.join(', ')}`);
  const n = x0.shape[0]!;
  const ts = (t: number) => new Array<number>(n).fill(t);
  // x0 is the start of the straight path every state lies on (the blend head subtracts it)
  const v = (x: Tensor, t: number) => net.forward(x, xA, xB, ts(t), x0, task);
  return noGrad(() => {
    let x = x0.detach();
    const h = 1 / steps;
    for (let s = 0; s < steps; s++) {
      const t = s * h;
      const next: Tensor = tidy(() => {
        if (solver === 'euler') return add(x, affine(v(x, t), h, 0));
        if (solver === 'midpoint') {
          const mid = add(x, affine(v(x, t), h / 2, 0));
          return add(x, affine(v(mid, t + h / 2), h, 0));
        }
        const k1 = v(x, t);
        const k2 = v(add(x, affine(k1, h / 2, 0)), t + h / 2);
        const k3 = v(add(x, affine(k2, h / 2, 0)), t + h / 2);
        const k4 = v(add(x, affine(k3, h, 0)), t + h);
        const sum = add(add(k1, affine(k2, 2, 0)), add(affine(k3, 2, 0), k4));
        return add(x, affine(sum, h / 6, 0));
      });
      x.dispose();
      x = next;
    }
    return x;
  });
}
