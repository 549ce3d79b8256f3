/**
 * Sizes Winograd F(2x2,3x3) before building it: times the direct 3x3 forward against the
 * batched GEMM that Winograd would run in its place (16 GEMMs of [tiles, Cin] x [Cin, Cout],
 * tiles = N * H/2 * W/2), interleaved in one process. Winograd's input and output transforms
 * come on top of the GEMM, so a ratio (GEMM / conv) near 1 means Winograd cannot win here.
 *
 *   node dist/bench/engine/winograd-probe.js [--rounds 7] [--out bench/results/winograd-probe-<adapter>.json]
 */
import { parseArgs } from 'node:util';
import { randn } from '../../src/autograd/create.js';
import { conv2d, matmul } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { interleaved, round } from './timing.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('winograd-probe', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/winograd-probe-${adapterSlug(rt.adapter)}.json`;
const records: object[] = [];
// the shapes of bench:kernels' conv cases
for (const [N, C, S] of [[4, 32, 64], [1, 64, 128], [8, 128, 16]] as const) {
  const x = randn([N, C, S, S], 1).keep();
  const w = randn([C, C, 3, 3], 2, 0.05).keep();
  const tiles = N * (S / 2) * (S / 2);
  const v = randn([16, tiles, C], 3).keep();
  const u = randn([16, C, C], 4).keep();
  const t = await interleaved({
    conv: async () => { noGrad(() => tidy(() => { conv2d(x, w, null); })); await rt.sync(); },
    gemm: async () => { noGrad(() => tidy(() => { matmul(v, u); })); await rt.sync(); },
  }, { warmup: 2, rounds: Number(values.rounds) });
  const ratio = round(t.gemm!.median_ms / t.conv!.median_ms, 3);
  console.log(`N=${N} ${C}->${C} ${S}x${S}: direct conv ${t.conv!.median_ms} ms, Winograd GEMM alone ${t.gemm!.median_ms} ms (${ratio} of the conv)`);
  records.push({ case: `conv3x3 N=${N} ${C}->${C} ${S}x${S}`, impl: 'fusionfm', adapter: rt.adapter.name, direct_conv: t.conv, winograd_gemm_alone: t.gemm, gemm_over_conv: ratio });
  for (const a of [x, w, v, u]) a.dispose();
}
writeBenchReport(out, provenance, { records });
rt.destroy();
