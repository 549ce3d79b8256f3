/**
 * What recording one dispatch costs in JavaScript: uniforms, pipeline lookup, bind group,
 * encoder calls. The GPU work is kept negligible (4-element tensors), and the device is waited
 * for outside the timed region, so the figure is the CPU cost a kernel launch adds on any
 * device (on a fast GPU it is what bounds small-batch speed).
 *
 *   npm run bench:dispatch [-- --rounds 15 --out file.json]
 *
 * Cases: a chain of tiny adds (one pipeline, recurring buffers), and the shipped FusionFM net's
 * forward on a 16x16 input under noGrad (every kernel family of an evaluation), whose dispatch
 * count per evaluation is reported too. Writes { bench, adapter, commit, command, records }.
 */
import { randn } from '../../src/autograd/create.js';
import { add } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { round, summarize } from './timing.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const rt = await createNodeRuntime();
const provenance = benchProvenance('dispatch', rt.adapter.name);
useRuntime(rt);
const rounds = Number(arg('rounds', '15'));
const out = arg('out', `bench/results/dispatch-${adapterSlug(rt.adapter)}.json`);

/** Times `record` (JS only: the device is synced before and after, outside the clock); returns microseconds per dispatch and the dispatch count. */
async function perDispatch(record: () => void): Promise<{ us: number[]; dispatches: number }> {
  const us: number[] = [];
  let dispatches = 0;
  for (let r = 0; r < rounds + 2; r++) {
    await rt.sync();
    const d0 = rt.counters.dispatches;
    const t0 = performance.now();
    record();
    const ms = performance.now() - t0;
    dispatches = rt.counters.dispatches - d0;
    await rt.sync();
    if (r >= 2) us.push((ms * 1000) / dispatches); // two warm-up rounds compile the pipelines
  }
  return { us, dispatches };
}

const records: object[] = [];
const report = (name: string, r: { us: number[]; dispatches: number }) => {
  const t = summarize(r.us);
  records.push({ case: name, impl: 'fusionfm', adapter: rt.adapter.name, median_us_per_dispatch: t.median_ms, min_us: t.min_ms, max_us: t.max_ms, dispatches: r.dispatches, runs: t.runs });
  console.log(`${name.padEnd(44)} ${String(round(t.median_ms, 3)).padStart(8)} us/dispatch (min ${round(t.min_ms, 3)}, max ${round(t.max_ms, 3)}), ${r.dispatches} dispatches`);
};

const a = randn([4], 1).keep();
const b = randn([4], 2).keep();
report('chain of 2000 adds, 4 elements', await perDispatch(() => noGrad(() => tidy(() => {
  let x = a;
  for (let i = 0; i < 2000; i++) x = add(x, b);
  return x;
})).dispose()));

const net = withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY));
const x = randn([1, 1, 16, 16], 3).keep();
report('FusionFM net forward, 16x16 (noGrad)', await perDispatch(() => noGrad(() => tidy(() => net.forward(x, x, x, [0]))).dispose()));

writeBenchReport(out, provenance, { records });
rt.destroy();
