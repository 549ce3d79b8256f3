/**
 * Elastic weight consolidation's ingredients on the GPU: the diagonal of the empirical Fisher
 * information (mean over samples of the squared gradient of each sample's loss) and the merge
 * of a new task's penalty into the penalties of earlier ones.
 *
 * Merging is exact for the gradient the optimizer applies: sum_k F_k (p - a_k) = F (p - a) with
 * F = sum_k F_k and a = sum_k F_k a_k / F, so one (F, a) pair per parameter carries every earlier
 * task's penalty (the constant the loss would add does not change any update).
 */
import { backward } from '../autograd/backward.js';
import { add, affine, div, mean, mul, square } from '../autograd/ops.js';
import { noGrad, scope, tidy, type Tensor } from '../autograd/tensor.js';
import type { Parameter } from './module.js';
import { readScalars } from './readback.js';

/**
 * Diagonal Fisher of `params`: for each of n samples, the gradient of lossOf(i) (a scalar loss
 * of that one sample) squared, averaged. Gradients accumulated in params are cleared.
 */
export async function estimateFisher(params: Parameter[], n: number, lossOf: (i: number) => Tensor): Promise<Map<Parameter, Tensor>> {
  if (!(n >= 1)) throw new RangeError(`estimateFisher: need at least one sample, got ${n}`);
  const acc = new Map<Parameter, Tensor>(noGrad(() => params.map((p) => [p, affine(p, 0, 0).keep()] as [Parameter, Tensor])));
  for (let i = 0; i < n; i++) {
    await scope(async () => {
      for (const p of params) p.grad?.dispose(), (p.grad = null);
      backward(lossOf(i));
      noGrad(() => tidy(() => {
        for (const p of params) {
          if (!p.grad) continue;
          const f = acc.get(p)!;
          const next = add(f, square(p.grad));
          p.rt.copy(next.storage, 0, f.storage, 0, f.size * 4);
        }
      }));
      // Bound the work in flight to one sample. Without a wait, all n samples' dispatches (and
      // their bind groups) are recorded before the device catches up; with a slow device under
      // load, Dawn then keeps allocating Vulkan descriptor pools and lavapipe's
      // vkCreateDescriptorPool segfaults (scripts/repro/fisher-in-flight.mjs has the backtrace).
      await params[0]?.rt.sync();
    });
  }
  for (const p of params) p.grad?.dispose(), (p.grad = null);
  noGrad(() => tidy(() => {
    for (const f of acc.values()) {
      const m = affine(f, 1 / n, 0);
      f.rt.copy(m.storage, 0, f.storage, 0, f.size * 4);
    }
  }));
  return acc;
}

/**
 * How a Fisher estimate is scaled before it weighs the penalty:
 *   'global': one factor, so that its mean over all parameters is 1; lambda then weighs the
 *             penalty against the loss gradients independently of the loss's scale;
 *   'tensor': each parameter tensor to mean 1 on its own, keeping the ranking inside a tensor.
 * Why 'tensor' exists: in a net with group norms most weights are scale-invariant, and their
 * squared gradients are orders of magnitude below those of the unnormalised input and output
 * convolutions, so the global scale puts almost all of the penalty on those few layers
 * (bench/continual/continual-fisher.ts measures it: half the mass in 31 of 171,817 parameters).
 */
export type FisherScale = 'global' | 'tensor';

/** Scales a Fisher estimate in place (see FisherScale); returns its mean over all parameters before scaling. */
export async function normaliseFisher(fisher: Map<Parameter, Tensor>, scale: FisherScale = 'global'): Promise<number> {
  const tensors = [...fisher.values()];
  const means = await readScalars(tensors.length, (i) => mean(tensors[i]!));
  let total = 0;
  let count = 0;
  for (const [i, f] of tensors.entries()) {
    total += means[i]! * f.size;
    count += f.size;
  }
  const avg = total / Math.max(1, count);
  if (!(avg > 0)) return avg;
  noGrad(() => tidy(() => {
    for (const [i, f] of tensors.entries()) {
      const by = scale === 'global' ? avg : means[i]!;
      // a tensor without any gradient stays zero: nothing in it matters to the task
      if (!(by > 0)) continue;
      const s = affine(f, 1 / by, 0);
      f.rt.copy(s.storage, 0, f.storage, 0, f.size * 4);
    }
  }));
  return avg;
}

export interface EwcState {
  fisher: Map<Parameter, Tensor>;
  anchor: Map<Parameter, Tensor>;
}

/**
 * Adds a task's penalty (its Fisher, anchored at the parameters' current values) to the
 * accumulated ones; `prev` (if any) is consumed. Where the total Fisher is zero the anchor is the
 * current value.
 */
export function mergeEwc(prev: EwcState | null, fisher: Map<Parameter, Tensor>, params: Parameter[]): EwcState {
  return noGrad(() => {
    const out: EwcState = { fisher: new Map(), anchor: new Map() };
    for (const p of params) {
      const fNew = fisher.get(p)!;
      const fOld = prev?.fisher.get(p);
      const aOld = prev?.anchor.get(p);
      if (!fOld || !aOld) {
        out.fisher.set(p, affine(fNew, 1, 0).keep());
        out.anchor.set(p, affine(p, 1, 0).keep());
        continue;
      }
      const [f, a] = tidy(() => {
        const total = add(fOld, fNew);
        const weighted = add(mul(fOld, aOld), mul(fNew, p));
        // a = weighted / total where total > 0, else p:  (weighted + tiny * p) / (total + tiny)
        const tiny = 1e-30;
        const anchor = div(add(weighted, affine(p, tiny, 0)), affine(total, 1, tiny));
        return [total.keep(), anchor.keep()];
      });
      out.fisher.set(p, f);
      out.anchor.set(p, a);
    }
    if (prev) for (const t of [...prev.fisher.values(), ...prev.anchor.values()]) t.dispose();
    return out;
  });
}
