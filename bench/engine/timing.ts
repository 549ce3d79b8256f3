/** Benchmark timing helpers: warm-up, interleaved rounds, medians and spread. */

export interface Timing {
  median_ms: number;
  min_ms: number;
  max_ms: number;
  runs: number;
}

export function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median_ms: round(median), min_ms: round(s[0]!), max_ms: round(s[s.length - 1]!), runs: s.length };
}

export function round(x: number, digits = 4): number {
  return Number(x.toPrecision(digits));
}

/**
 * Times several implementations of the same work interleaved (A B A B ...), because
 * software-GPU timings drift from minute to minute and only ratios within one round hold.
 * Each `run` must include waiting for the device.
 */
export async function interleaved(impls: Record<string, () => Promise<void>>, opts: { warmup: number; rounds: number }): Promise<Record<string, Timing>> {
  const names = Object.keys(impls);
  for (let i = 0; i < opts.warmup; i++) for (const n of names) await impls[n]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < opts.rounds; r++) {
    for (const n of names) {
      const t0 = performance.now();
      await impls[n]!();
      samples[n]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n]!)]));
}
