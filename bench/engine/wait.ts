/**
 * How waiting for the GPU affects throughput: dawn.node's own polling (spins a core through
 * setImmediate) against our waits (src/gpu/wait.ts): hybrid (spin 0.5 ms, then 1 ms timer ticks)
 * and adaptive (the default: spin 0.5 ms, then sleeps of an eighth of the time waited until 8 ms,
 * then 1 ms timer ticks), interleaved.
 *   node dist/bench/engine/wait.js [--rounds 9] [--out file.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { conv2d } from '../../src/kernels/conv2d.js';
import { unary } from '../../src/kernels/elementwise.js';
import { fillConstant } from '../../src/kernels/fill.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { setWaitMode, type WaitMode } from '../../src/gpu/wait.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { interleaved } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { out: { type: 'string', default: 'bench/results/wait-lavapipe.json' }, rounds: { type: 'string', default: '9' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('wait', rt.adapter.name);
useRuntime(rt);
const x = randn([1, 64, 128, 128], 1).keep();
const w = randn([64, 64, 3, 3], 2).keep();
const withMode = (m: WaitMode, fn: () => Promise<void>) => async () => {
  setWaitMode(m);
  await fn();
};
const heavy = async () => {
  rt.free(conv2d(rt, x, w, null).storage);
  await rt.sync();
};
const tiny = async () => {
  for (let i = 0; i < 20; i++) {
    const s = fillConstant(rt, [16], i);
    await rt.read(s.storage);
    rt.free(s.storage);
  }
};
// a few dispatches of a few hundred microseconds each and one wait: the waits of short ops (an attention, a loss read back)
const few = async () => {
  for (let i = 0; i < 3; i++) rt.free(fillConstant(rt, [1 << 18], i).storage);
  await rt.sync();
};
// one short elementwise op on a tensor and its wait: what a small op costs a caller that waits for it
const small = randn([1, 128, 256], 3).keep();
const one = async () => {
  rt.free(unary(rt, small, 'affine', 2, 0).storage);
  await rt.sync();
};
const records = [];
const cases = [['conv3x3 N=1 64->64 128x128, one wait', heavy], ['3 dispatches of 256k floats, one wait', few], ['an elementwise op on 32k floats, one wait', one], ['20 tiny dispatches, each read back', tiny]] as const;
for (const [name, fn] of cases) {
  const r = await interleaved({ spin: withMode('spin', fn), hybrid: withMode('hybrid', fn), adaptive: withMode('adaptive', fn) }, { warmup: 2, rounds: Number(values.rounds) });
  for (const [impl, t] of Object.entries(r)) records.push({ case: name, impl: `wait-${impl}`, adapter: rt.adapter.name, ...t });
  console.log(`${name}: dawn.node polling ${r.spin!.median_ms} ms, hybrid wait ${r.hybrid!.median_ms} ms, adaptive wait ${r.adaptive!.median_ms} ms`);
}
writeBenchReport(values.out!, provenance, { records });
rt.destroy();
