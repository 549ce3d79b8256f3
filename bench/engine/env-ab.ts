/**
 * The whole-network effect of a process environment setting that the adapter reads once at
 * start-up (e.g. Mesa's LP_NATIVE_VECTOR_WIDTH, LP_NUM_THREADS), which knob-ab cannot switch
 * inside one process. One child process per variant holds knob-ab's workload (ab-workload.ts:
 * forward and training step of both nets) ready; the parent asks them in turn for one run at a
 * time (A B B A ...), so both variants run in the same minutes of a machine whose speed drifts,
 * as knob-ab's rounds do within one process. Reported per case: each variant's median, min and
 * max, and the median of the per-round ratios to the first variant. Outputs are checked to agree
 * across variants.
 *
 *   node dist/bench/engine/env-ab.js --variants 'w256=LP_NATIVE_VECTOR_WIDTH:256;w512=LP_NATIVE_VECTOR_WIDTH:512' [--rounds 9]
 *     [--out bench/results/env-ab-<adapter of the first variant>.json]
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { abCase, abNets, maxAbsDiff } from './ab-workload.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { namedSettings, round, summarize } from './timing.js';

const { values } = benchArgs(import.meta.url, {
  options: { rounds: { type: 'string', default: '9' }, variants: { type: 'string' }, out: { type: 'string' }, child: { type: 'boolean', default: false } },
});

/**
 * Holds the workload and answers the parent, one JSON line per request on stdin:
 * {"describe": true} -> {adapter, slug, cases: [names]}; {"run": i} -> {ms}; {"output": j} -> {data} (net j's forward output).
 */
async function child(): Promise<void> {
  const rt = await getNodeRuntime();
  useRuntime(rt);
  const work = abNets().map((c) => abCase(rt, c));
  const runs = work.flatMap((w) => [[w.forwardCase, w.forward], [w.trainCase, w.train]] as const);
  const reply = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as { describe?: true; run?: number; output?: number };
    if (req.describe) reply({ adapter: rt.adapter.name, slug: adapterSlug(rt.adapter), cases: runs.map(([n]) => n) });
    else if (req.run !== undefined) {
      const t0 = performance.now();
      await runs[req.run]![1]();
      reply({ ms: performance.now() - t0 });
    } else if (req.output !== undefined) reply({ data: Array.from(await work[req.output]!.output()) });
  }
  for (const w of work) w.dispose();
  rt.destroy();
}

/** A child process of one variant, asked one request at a time. */
class Variant {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  constructor(readonly name: string, env: Record<string, string>) {
    this.proc = spawn(process.execPath, [process.argv[1]!, '--child'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.resume();
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async ask<T>(req: object): Promise<T> {
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const next = await this.lines.next();
    if (next.done) throw new Error(`env-ab: variant '${this.name}' exited (its stderr was not kept: run it alone with --child to see it)`);
    return JSON.parse(next.value) as T;
  }
  close(): void {
    this.proc.stdin.end();
  }
}

async function parent(): Promise<void> {
  if (!values.variants) throw new Error("env-ab: --variants 'name=VAR:value,...;name2=...' is required (two or more)");
  const spec = namedSettings(values.variants, 'env-ab --variants');
  if (spec.length < 2) throw new Error('env-ab: --variants needs at least two variants to compare');
  const rounds = Number(values.rounds);
  const variants = spec.map(([n, env]) => new Variant(n, env));
  try {
    const described = await Promise.all(variants.map((v) => v.ask<{ adapter: string; slug: string; cases: string[] }>({ describe: true })));
    for (const [i, v] of variants.entries()) console.log(`${v.name}: ${described[i]!.adapter}`);
    const cases = described[0]!.cases;
    const nets = cases.length / 2;
    const diffs: number[] = [];
    for (let j = 0; j < nets; j++) {
      const outs: Float32Array[] = [];
      for (const v of variants) outs.push(Float32Array.from((await v.ask<{ data: number[] }>({ output: j })).data));
      diffs.push(maxAbsDiff(outs));
    }
    const maxDiff = Math.max(...diffs);
    const records = [];
    for (const [i, name] of cases.entries()) {
      for (const v of variants) await v.ask({ run: i }); // warm-up
      const samples: number[][] = variants.map(() => []);
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? variants.map((_, k) => k) : variants.map((_, k) => variants.length - 1 - k);
        for (const k of order) samples[k]!.push((await variants[k]!.ask<{ ms: number }>({ run: i })).ms);
      }
      const perVariant = Object.fromEntries(variants.map((v, k) => {
        const ratios = samples[k]!.map((t, r) => samples[0]![r]! / t);
        return [v.name, { ...summarize(samples[k]!), speedup_vs_first_median: round(summarize(ratios).median_ms), speedup_vs_first_min: round(Math.min(...ratios)), speedup_vs_first_max: round(Math.max(...ratios)) }];
      }));
      console.log(`${name}: ${variants.map((v) => `${v.name} ${perVariant[v.name]!.median_ms} ms (min ${perVariant[v.name]!.min_ms}, x${perVariant[v.name]!.speedup_vs_first_median})`).join(', ')}`);
      records.push({ case: name, impl: 'fusionfm', ...perVariant });
    }
    console.log(`forward outputs differ across variants by at most ${maxDiff.toExponential(2)}`);
    const adapters = Object.fromEntries(variants.map((v, k) => [v.name, described[k]!.adapter]));
    const provenance = benchProvenance('env-ab', described[0]!.adapter);
    writeBenchReport(values.out ?? `bench/results/env-ab-${described[0]!.slug}.json`, provenance, { variants: Object.fromEntries(spec), adapters, rounds, max_abs_diff: maxDiff, records });
  } finally {
    for (const v of variants) v.close();
  }
}

if (values.child) await child();
else await parent();
