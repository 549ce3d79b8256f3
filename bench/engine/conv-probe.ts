/**
 * Times conv2d variants against each other, interleaved in one process, on the shapes of
 * bench:kernels' conv cases plus the U-Net's widest level: each variant is a set of tuning
 * knobs (src/kernels/conv2d.ts). The default variant is the adapter's own choice.
 *
 *   node dist/bench/engine/conv-probe.js [--rounds 7] [--variants 'rows=FFM_CONV_ROWV:0;tile16x4=FFM_CONV_TP:16,FFM_CONV_COV:4']
 *     [--backward] [--out bench/results/conv-probe-<adapter>.json]
 * --backward times the input gradient (stride 1: the forward kernel over dy) and the weight gradient too.
 * --ops forward,input-grad,weight-grad times the named ops, each a case of its own (instead of one
 * case for the forward, or for all three with --backward).
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { conv2d, conv2dInputGrad, conv2dWeightGrad } from '../../src/kernels/conv2d.js';
import { interleaved, knobVariants, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { shapes: { type: 'string', default: '4x32x64,1x64x128,8x128x16,4x32x128' }, rounds: { type: 'string', default: '7' }, out: { type: 'string' }, variants: { type: 'string', default: 'scalar_rows=FFM_CONV_ROWV:0' }, backward: { type: 'boolean', default: false }, ops: { type: 'string' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('conv-probe', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/conv-probe-${adapterSlug(rt.adapter)}.json`;
const variants = knobVariants(values.variants);
const records: object[] = [];
for (const [N, C, S] of values.shapes.split(',').map((s) => s.split('x').map(Number) as [number, number, number])) {
  const x = randn([N, C, S, S], 1).keep();
  const w = randn([C, C, 3, 3], 2, 0.05).keep();
  const dy = randn([N, C, S, S], 3).keep();
  const op = {
    forward: () => rt.free(conv2d(rt, x, w, null).storage),
    'input-grad': () => rt.free(conv2dInputGrad(rt, dy, w, x.shape).storage),
    'weight-grad': () => rt.free(conv2dWeightGrad(rt, x, dy, w.shape).storage),
  };
  type Op = keyof typeof op;
  const groups: Op[][] = values.ops ? values.ops.split(',').map((o) => {
    if (!(o in op)) throw new Error(`--ops: expected forward, input-grad or weight-grad, got '${o}'`);
    return [o as Op];
  }) : [values.backward ? ['forward', 'input-grad', 'weight-grad'] : ['forward']];
  for (const ops of groups) {
    const fns: Record<string, () => Promise<void>> = {};
    for (const [name, knobs] of variants) {
      fns[name] = () => withKnobs(knobs, async () => {
        noGrad(() => tidy(() => { for (const o of ops) op[o](); }));
        await rt.sync();
      });
    }
    const t = await interleaved(fns, { warmup: 2, rounds: Number(values.rounds) });
    const gflop = (ops.length * 2 * N * C * C * 9 * S * S) / 1e9;
    const what = ops.length === 3 ? ' forward + input grad + weight grad' : ops[0] === 'forward' ? '' : ` ${ops[0]!.replace('-', ' ')}`;
    console.log(`N=${N} ${C}->${C} ${S}x${S}${what}: ` + Object.entries(t).map(([k, v]) => `${k} ${v.median_ms} ms (${(gflop / (v.median_ms / 1000)).toFixed(1)} GFLOPS)`).join(', '));
    records.push({ case: `conv3x3 N=${N} ${C}->${C} ${S}x${S}${what}`, impl: 'fusionfm', adapter: rt.adapter.name, gflop, ...t });
  }
  for (const a of [x, w, dy]) a.dispose();
}
writeBenchReport(out, provenance, { variants: Object.fromEntries(variants), records });
rt.destroy();
