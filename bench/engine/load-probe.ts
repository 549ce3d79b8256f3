/**
 * What one load costs a kernel on this adapter, per invocation: a storage-buffer f32, a
 * storage-buffer vec4f, an rgba32float texel (textureLoad) and a vec4f from workgroup memory,
 * each at addresses that differ between neighbouring invocations. On lavapipe every storage load
 * becomes a bounds-checked load per SIMD lane, so wide loads and fewer loads per FMA are what
 * make its kernels fast (shaders/conv2d.wgsl, ROWV); this measures that instead of assuming it.
 *
 *   node dist/bench/engine/load-probe.js [--rounds 7] [--out bench/results/load-probe-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { rawDispatch } from './raw-dispatch.js';
import { interleaved } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('load-probe', rt.adapter.name);
const device = rt.device;
const out = values.out ?? `bench/results/load-probe-${adapterSlug(rt.adapter)}.json`;
const INVOCATIONS = 1 << 16;
const LOADS = 512; // per invocation
const head = `
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
// a scattered but cheap address: neighbouring invocations read different places
fn addr(i: u32, lid: u32, it: u32) -> u32 { return (i * 7u + it * 13u + lid * 3u) & 65535u; }
`;
const loop = (load: string, acc = 'acc = acc + v;') => `
  var acc = vec4f(0.0);
  for (var it = 0u; it < ${LOADS}u; it++) { let a = addr(g.x, lid, it); let v = ${load}; ${acc} }
  out[g.x] = acc;`;
const entry = '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_index) lid: u32) {';
const kernels: Record<string, { code: string; texture?: boolean }> = {
  'storage f32': { code: `${head}@group(0) @binding(1) var<storage, read> buf: array<f32>;\n${entry}${loop('buf[a]', 'acc.x = acc.x + v;')}\n}` },
  'storage vec4f': { code: `${head}@group(0) @binding(1) var<storage, read> buf: array<vec4f>;\n${entry}${loop('buf[a]')}\n}` },
  'texture rgba32float': { code: `${head}@group(0) @binding(1) var tex: texture_2d<f32>;\n${entry}${loop('textureLoad(tex, vec2u(a & 255u, a >> 8u), 0)')}\n}`, texture: true },
  'workgroup vec4f': {
    code: `${head}@group(0) @binding(1) var<storage, read> buf: array<vec4f>;\nvar<workgroup> sh: array<vec4f, 1024>;\n${entry}
  for (var j = lid; j < 1024u; j += 64u) { sh[j] = buf[j]; }
  workgroupBarrier();${loop('sh[a & 1023u]')}\n}`,
  },
  // the same loads where every invocation of a workgroup reads the same address (the address is a
  // function of the workgroup id alone, which the shader compiler can see): a GEMM whose workgroup
  // shares its rows could load them this way
  'storage vec4f, workgroup-uniform address': {
    code: `${head}@group(0) @binding(1) var<storage, read> buf: array<vec4f>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) w: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc = vec4f(0.0);
  for (var it = 0u; it < ${LOADS}u; it++) { let a = (w.x * 7u + it * 13u) & 65535u; let v = buf[a]; acc = acc + v; }
  out[g.x] = acc + f32(lid);\n}`,
  },
  // neighbouring invocations read neighbouring vec4s
  'storage vec4f, consecutive addresses': { code: `${head}@group(0) @binding(1) var<storage, read> buf: array<vec4f>;\n${entry}${loop('buf[(a - lid * 3u + lid) & 65535u]')}\n}` },
  'no load (address arithmetic only)': { code: `${head}${entry}${loop('vec4f(f32(a))')}\n}` },
};
const outBuf = device.createBuffer({ size: INVOCATIONS * 16, usage: GPUBufferUsage.STORAGE });
const buf = device.createBuffer({ size: 65536 * 16, usage: GPUBufferUsage.STORAGE });
const tex = device.createTexture({ size: [256, 256], format: 'rgba32float', usage: GPUTextureUsage.TEXTURE_BINDING });
const fns: Record<string, () => Promise<void>> = {};
for (const [name, k] of Object.entries(kernels)) {
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: k.code }), entryPoint: 'main' } });
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: outBuf } }];
  if (k.texture) entries.push({ binding: 1, resource: tex.createView() });
  else if (!name.startsWith('no load')) entries.push({ binding: 1, resource: { buffer: buf } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  fns[name] = rawDispatch(device, pipeline, bindGroup, INVOCATIONS / 64);
}
const t = await interleaved(fns, { warmup: 1, rounds: Number(values.rounds) });
const records = Object.entries(t).map(([name, v]) => {
  const ns = (v.median_ms * 1e6) / (INVOCATIONS * LOADS);
  console.log(`${name}: ${v.median_ms} ms, ${ns.toFixed(2)} ns per invocation and load`);
  return { case: `${name}, ${LOADS} scattered loads per invocation, ${INVOCATIONS} invocations`, impl: 'fusionfm', adapter: rt.adapter.name, ns_per_load: Number(ns.toFixed(3)), ...v };
});
writeBenchReport(out, provenance, { records });
rt.destroy();
