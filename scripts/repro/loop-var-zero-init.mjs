// Minimal reproduction: a function-scope `var` declared without initializer inside a loop body
// must be zero-initialized each time the declaration executes (WGSL spec, "var declarations").
// On Dawn (npm webgpu 0.6.2) + Mesa lavapipe 25.0.7 it keeps the previous iteration's values
// when the array is dynamically indexed. Expected output: 5; observed on lavapipe: see below.
// Run: node scripts/repro/loop-var-zero-init.mjs
// Workaround in shaders/conv2d.wgsl (weight_grad): assign every element explicitly.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice();
const code = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> n: array<u32>;
@compute @workgroup_size(1) fn main() {
  var total = 0.0;
  for (var i = 0u; i < 3u; i++) {
    var a: array<f32, 8>;
    if (i == 0u) { a[n[0]] = 5.0; }
    total += a[n[0]];
  }
  out[0] = total;
}`;
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
const out = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const idx = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(idx, 0, new Uint32Array([1]));
const read = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const enc = device.createCommandEncoder();
const pass = enc.beginComputePass();
pass.setPipeline(pipeline);
pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }, { binding: 1, resource: { buffer: idx } }] }));
pass.dispatchWorkgroups(1);
pass.end();
enc.copyBufferToBuffer(out, 0, read, 0, 4);
device.queue.submit([enc.finish()]);
await read.mapAsync(GPUMapMode.READ);
const v = new Float32Array(read.getMappedRange())[0];
console.log(`adapter: ${adapter.info.description}\nresult: ${v} (expected 5)${v === 5 ? '' : '  <- loop-body var not re-zeroed'}`);
