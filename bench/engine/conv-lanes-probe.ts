/**
 * Times conv2d's 3x3 forward kernels against each other, interleaved in one process: the
 * register-tiled `forward` (the default) and `forward_lanes` (one pixel per lane, weights
 * loaded uniformly) with 4*LCOV output channels per lane. Knob FFM_CONV_LANES picks the latter.
 *
 *   node dist/bench/engine/conv-lanes-probe.js [--rounds 7] [--out bench/results/conv-lanes-probe-<adapter>.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { randn } from '../../src/autograd/create.js';
import { conv2d } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug, gitCommit, hostCpu } from '../../src/io/provenance.js';
import { interleaved, round } from './timing.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' }, lcov: { type: 'string', default: '' }, tiles: { type: 'string', default: '' } } });
const rt = await createNodeRuntime();
useRuntime(rt);
const out = values.out ?? `bench/results/conv-lanes-probe-${adapterSlug(rt.adapter)}.json`;
const records: object[] = [];
const variants = values.lcov ? values.lcov.split(',').map(Number) : [];
for (const [N, C, S] of [[4, 32, 64], [1, 64, 128], [8, 128, 16], [1, 32, 128]] as const) {
  const x = randn([N, C, S, S], 1).keep();
  const w = randn([C, C, 3, 3], 2, 0.05).keep();
  const run = (lanes: number, fma = false) => async () => {
    if (lanes) process.env.FFM_CONV_LANES = String(lanes); else delete process.env.FFM_CONV_LANES;
    if (fma) process.env.FFM_CONV_FMA = '1'; else delete process.env.FFM_CONV_FMA;
    noGrad(() => tidy(() => { conv2d(x, w, null); }));
    await rt.sync();
  };
  const fns: Record<string, () => Promise<void>> = { forward: run(0), forward_fma: run(0, true) };
  for (const l of variants) fns[`lanes${l}`] = run(l);
  for (const spec of values.tiles ? values.tiles.split(',') : []) {
    const [tp, cov] = spec.split('x');
    fns[`tile${spec}`] = async () => {
      process.env.FFM_CONV_TP = tp!; process.env.FFM_CONV_COV = cov!;
      await run(0)();
      delete process.env.FFM_CONV_TP; delete process.env.FFM_CONV_COV;
    };
  }
  const t = await interleaved(fns, { warmup: 2, rounds: Number(values.rounds) });
  delete process.env.FFM_CONV_LANES;
  const gflop = (2 * N * C * C * 9 * S * S) / 1e9;
  const line = Object.entries(t).map(([k, v]) => `${k} ${v.median_ms} ms (${(gflop / (v.median_ms / 1000)).toFixed(1)} GFLOPS)`).join(', ');
  console.log(`N=${N} ${C}->${C} ${S}x${S}: ${line}`);
  records.push({ case: `conv3x3 N=${N} ${C}->${C} ${S}x${S}`, impl: 'fusionfm', adapter: rt.adapter.name, gflop, ...t });
  for (const a of [x, w]) a.dispose();
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ bench: 'conv-lanes-probe', adapter: rt.adapter.name, commit: gitCommit(), host: hostCpu(), command: `node dist/bench/engine/conv-lanes-probe.js ${process.argv.slice(2).join(' ')}`.trim(), records }, null, 1) + '\n');
console.log(`wrote ${out}`);
rt.destroy();
