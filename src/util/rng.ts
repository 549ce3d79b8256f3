/**
 * Counter-based random numbers: value i of stream `seed` is a pure function of (seed, i),
 * so the GPU (shaders/random.wgsl) and the CPU produce the same stream on any run, and
 * any slice of a stream can be generated without the ones before it.
 * The mixer is a 32-bit integer hash chain (PCG output permutation) applied to the counter
 * keyed by the seed; the same integer steps are written in WGSL.
 */

export function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** 32 random bits for counter i of stream seed. */
export function randomBits(seed: number, i: number): number {
  const key = pcgHash(seed >>> 0);
  return pcgHash((pcgHash((i >>> 0) ^ key) + key) >>> 0);
}

/** Uniform in [0, 1): the top 24 bits, exactly representable in f32. */
export function uniformAt(seed: number, i: number): number {
  return (randomBits(seed, i) >>> 8) / 16777216;
}

/** Standard normal for counter i by Box-Muller on the uniforms at counters 2i and 2i+1. */
export function normalAt(seed: number, i: number): number {
  const u1 = 1 - uniformAt(seed, 2 * i); // (0, 1]
  const u2 = uniformAt(seed, 2 * i + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A small seeded generator for host-side choices (crops, shuffles); never Math.random. */
export class SeededRng {
  private counter = 0;
  constructor(readonly seed: number) {}
  next(): number {
    return uniformAt(this.seed, this.counter++);
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  normal(): number {
    return normalAt(this.seed, this.counter++);
  }
  get position(): number {
    return this.counter;
  }
  set position(p: number) {
    this.counter = p;
  }
}
