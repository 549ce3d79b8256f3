/** A deterministic textured plane in about [0.2, 0.8]: input for speed benchmarks, where content does not matter but must not be constant. */
import { SeededRng } from './rng.js';

export function syntheticPlane(w: number, h: number, seed: number): Float32Array {
  const r = new SeededRng(seed);
  return Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin((i % w) / 7 + seed) * Math.cos(Math.floor(i / w) / 5) + 0.1 * (r.next() - 0.5));
}
