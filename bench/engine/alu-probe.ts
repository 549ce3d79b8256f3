/**
 * How close the engine's GEMM runs to what the adapter can compute at all. Two measurements in
 * one process, interleaved:
 *  - the arithmetic ceiling: kernels that do nothing but multiply-adds on values held by the
 *    invocation (4 to 32 vec4 accumulators, 256 iterations, one store at the end), in GFLOPS.
 *    On a CPU-backed adapter (lavapipe) every invocation is a SIMD lane and every register of
 *    the shader a vector register, so this is what its code generator makes of pure FMAs;
 *  - the batched GEMMs of the Winograd F(4x4) convolutions of the 2.7 M U-Net (36 products per
 *    convolution, src/kernels/winograd.ts), through the engine's own matmul, in GFLOPS.
 * Their ratio says how much a better GEMM could still gain on this adapter; the convolution's
 * FLOPs by direct summation against PyTorch's time (bench:torch) say how much the peer gets.
 *
 *   node dist/bench/engine/alu-probe.js [--rounds 7] [--out bench/results/alu-probe-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { matmul } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime, type Tensor } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { rawDispatch } from './raw-dispatch.js';
import { interleaved } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await createNodeRuntime();
useRuntime(rt);
const provenance = benchProvenance('alu-probe', rt.adapter.name);
const device = rt.device;
const out = values.out ?? `bench/results/alu-probe-${adapterSlug(rt.adapter)}.json`;

const INVOCATIONS = 1 << 16;
const ITERATIONS = 256;
/** acc_i = acc_i * p + q over `accumulators` vec4s: 8 FLOPs per vec4 and iteration, no memory traffic in the loop. */
function fmaKernel(accumulators: number): string {
  const names = Array.from({ length: accumulators }, (_, i) => `a${i}`);
  return `@group(0) @binding(0) var<storage, read_write> o: array<vec4f>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  let x = vec4f(f32(g.x) * 1e-6);
  let p = x + vec4f(0.5);
  let q = x + vec4f(0.25);
${names.map((a, i) => `  var ${a} = x + vec4f(${i}.0);`).join('\n')}
  for (var it = 0u; it < ${ITERATIONS}u; it++) {
${names.map((a) => `    ${a} = fma(${a}, p, q);`).join('\n')}
  }
  o[g.x] = ${names.join(' + ')};
}
`;
}
const outBuf = device.createBuffer({ size: INVOCATIONS * 16, usage: GPUBufferUsage.STORAGE });
const records: object[] = [];
const fmaCases: Record<string, () => Promise<void>> = {};
const fmaFlop: Record<string, number> = {};
for (const acc of [4, 8, 16, 32]) {
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: fmaKernel(acc) }), entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: outBuf } }] });
  const name = `register FMAs, ${acc} vec4 accumulators`;
  fmaFlop[name] = INVOCATIONS * ITERATIONS * acc * 8;
  fmaCases[name] = rawDispatch(device, pipeline, bindGroup, INVOCATIONS / 64);
}

// the U-Net's Winograd GEMMs as the forward runs them by tile groups (M = U^T V: [Cout x Cin] x [Cin x tiles], 36 per convolution)
const gemms: { name: string; flop: number; run: () => Tensor }[] = []; // flop: per sample
for (const [tiles, cin, cout] of [[1024, 32, 32], [256, 64, 64], [64, 128, 128], [1024, 96, 32], [256, 192, 64]] as const) {
  const u = randn([36, cin, cout], 1).keep();
  const v = randn([36, cin, tiles], 2).keep();
  gemms.push({ name: `Winograd GEMM 36 x [${cout}x${cin}] x [${cin}x${tiles}], 4 per sample`, flop: 2 * 36 * tiles * cin * cout, run: () => matmul(u, v, true, false) });
}
// several products per sample: waiting for the device has a granularity of about 1 ms on lavapipe
const REPEAT = 4;
const gemmCases: Record<string, () => Promise<void>> = {};
for (const c of gemms) {
  c.flop *= REPEAT;
  gemmCases[c.name] = async () => { for (let r = 0; r < REPEAT; r++) noGrad(() => tidy(() => { c.run(); })); await rt.sync(); };
}

const timed = await interleaved({ ...fmaCases, ...gemmCases }, { warmup: 1, rounds });
let ceiling = 0;
for (const [name, t] of Object.entries(timed)) {
  const flop = fmaFlop[name] ?? gemms.find((g) => g.name === name)!.flop;
  const gflops = flop / 1e6 / t.median_ms;
  if (name in fmaFlop) ceiling = Math.max(ceiling, gflops);
  records.push({ case: name, impl: 'fusionfm', adapter: rt.adapter.name, gflop: flop / 1e9, gflops: Number(gflops.toFixed(2)), ...t });
}
for (const r of records as { case: string; gflops: number; median_ms: number }[]) {
  console.log(`${r.case}: ${r.median_ms} ms, ${r.gflops} GFLOPS (${((100 * r.gflops) / ceiling).toFixed(0)}% of the register-FMA ceiling)`);
}
writeBenchReport(out, provenance, { ceiling_gflops: Number(ceiling.toFixed(2)), records });
rt.destroy();
