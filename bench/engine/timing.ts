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

/** Knob sets to time against the adapter's defaults: 'name=KNOB:value,KNOB:value;name2=...' (first: ['default', {}]). */
export function knobVariants(spec: string): [string, Record<string, string>][] {
  return [['default', {}], ...namedSettings(spec, '--variants', 'KNOB')];
}

/** Named sets of environment settings, 'name=VAR:value,VAR:value;name2=...'; errors start with `where` and call a setting `word`. */
export function namedSettings(spec: string, where: string, word = 'VAR'): [string, Record<string, string>][] {
  return spec.split(';').filter(Boolean).map((part) => {
    const [name, settings] = part.split('=');
    if (!name || !settings) throw new Error(`${where}: expected name=${word}:value,..., got '${part}'`);
    return [name, Object.fromEntries(settings.split(',').map((kv) => {
      const [k, v] = kv.split(':');
      if (!k || v === undefined) throw new Error(`${where}: expected ${word}:value, got '${kv}' in '${part}'`);
      return [k, v];
    }))];
  });
}

/** Runs f with the knobs set in the environment (src/kernels/program.ts reads them per launch), then unsets them. */
export async function withKnobs<T>(knobs: Record<string, string>, f: () => T | Promise<T>): Promise<T> {
  Object.assign(process.env, knobs);
  try {
    return await f();
  } finally {
    for (const k of Object.keys(knobs)) delete process.env[k];
  }
}
