/**
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) against the direct 3x3 kernel, per convolution shape: the
 * whole convolution each way (knob FFM_CONV_WINOGRAD 2 / 4 / 0), and the 16 GEMMs F(2x2) runs
 * alone, so that what its two transforms cost is the difference. Interleaved in one process. Shapes: the
 * FusionFM default net's levels (16, 32, 64 channels) at fusion (N = 1, 176 px) and training
 * (N = 4, 64 px) sizes, and bench:kernels' conv cases.
 *
 *   node dist/bench/engine/winograd-probe.js [--rounds 7] [--out bench/results/winograd-probe-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { conv2d, matmul } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { interleaved, round } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('winograd-probe', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/winograd-probe-${adapterSlug(rt.adapter)}.json`;
const records: object[] = [];
const SHAPES = [
  [1, 16, 176], [1, 32, 88], [1, 64, 44],
  [4, 16, 64], [4, 32, 32], [4, 64, 16],
  [4, 32, 64], [1, 64, 128], [8, 128, 16],
] as const;
for (const [N, C, S] of SHAPES) {
  const x = randn([N, C, S, S], 1).keep();
  const w = randn([C, C, 3, 3], 2, 0.05).keep();
  const tiles = N * Math.ceil(S / 2) * Math.ceil(S / 2);
  const v = randn([16, tiles, C], 3).keep();
  const u = randn([16, C, C], 4).keep();
  const conv = (mode: string) => async () => {
    process.env.FFM_CONV_WINOGRAD = mode;
    noGrad(() => tidy(() => { conv2d(x, w, null); }));
    await rt.sync();
  };
  const t = await interleaved({
    direct: conv('0'),
    winograd2: conv('2'),
    winograd4: conv('4'),
    gemm: async () => { noGrad(() => tidy(() => { matmul(v, u); })); await rt.sync(); },
  }, { warmup: 2, rounds: Number(values.rounds) });
  delete process.env.FFM_CONV_WINOGRAD;
  const s2 = round(t.direct!.median_ms / t.winograd2!.median_ms, 3);
  const s4 = round(t.direct!.median_ms / t.winograd4!.median_ms, 3);
  console.log(`N=${N} ${C}->${C} ${S}x${S}: direct ${t.direct!.median_ms} ms, F(2x2) ${t.winograd2!.median_ms} ms (${s2}x; its GEMMs alone ${t.gemm!.median_ms} ms), F(4x4) ${t.winograd4!.median_ms} ms (${s4}x)`);
  records.push({ case: `conv3x3 N=${N} ${C}->${C} ${S}x${S}`, impl: 'fusionfm', adapter: rt.adapter.name, direct: t.direct, winograd_2x2: t.winograd2, winograd_4x4: t.winograd4, winograd_2x2_gemm_alone: t.gemm, speedup_2x2: s2, speedup_4x4: s4 });
  for (const a of [x, w, v, u]) a.dispose();
}
writeBenchReport(out, provenance, { records });
rt.destroy();
