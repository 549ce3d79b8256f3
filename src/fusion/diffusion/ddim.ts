/**
 * Deterministic DDIM sampling (eta = 0, Song et al.) of the DDPM baseline in S steps: the
 * timesteps T-1 = t_S > ... > t_1 evenly spaced, each step predicts x0 from the noise
 * estimate (clipped to [-1, 1]) and moves to the previous timestep; S network evaluations.
 * Starts from seeded Gaussian noise, one draw for every batch entry (sharedNoise: the tiles of one
 * fusion, evaluated together or alone, each start where a lone evaluation would); returns the
 * fused luminance in [0, 1].
 */
import { add, affine, clamp, sub } from '../../autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../../autograd/tensor.js';
import { InputError } from '../../util/errors.js';
import type { VelocityNet } from '../flow/model.js';
import { sharedNoise } from '../flow/path.js';
import { alphaBars, DDPM_STEPS } from './ddpm.js';

const AB = alphaBars();

/** The S timesteps DDIM visits, descending (S = 1 visits T-1 only). */
export function ddimTimesteps(steps: number, T = DDPM_STEPS): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new InputError(`DDIM steps must be an integer in 1..${T}, got ${steps}`);
  const out: number[] = [];
  for (let i = steps - 1; i >= 0; i--) out.push(Math.round(((i + 1) * T) / steps) - 1);
  return out;
}

export function ddimSample(net: VelocityNet, xA: Tensor, xB: Tensor, steps: number, seed = 0, task?: string): Tensor {
  const ts = ddimTimesteps(steps);
  const n = xA.shape[0]!;
  return noGrad(() => {
    let x = sharedNoise(xA.shape, seed);
    let x0: Tensor | null = null;
    for (const [i, t] of ts.entries()) {
      const ab = AB[t]!;
      const prev = i + 1 < ts.length ? AB[ts[i + 1]!]! : 1;
      const next: { x: Tensor; x0: Tensor } = tidy(() => {
        const eps = net.forward(x, xA, xB, new Array<number>(n).fill(t / DDPM_STEPS), undefined, task);
        const pred = clamp(affine(sub(x, affine(eps, Math.sqrt(1 - ab), 0)), 1 / Math.sqrt(ab), 0), -1, 1);
        return { x: add(affine(pred, Math.sqrt(prev), 0), affine(eps, Math.sqrt(1 - prev), 0)), x0: pred };
      });
      x.dispose();
      x0?.dispose();
      x = next.x;
      x0 = next.x0;
    }
    x.dispose();
    const out = affine(x0!, 0.5, 0.5);
    x0!.dispose();
    return out;
  });
}
