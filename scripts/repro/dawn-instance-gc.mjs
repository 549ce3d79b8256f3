// Minimal reproduction: dawn.node (npm webgpu 0.6.2) crashes when the object returned by
// create() is garbage-collected while one of its devices is still in use.
// Run: node --expose-gc scripts/repro/dawn-instance-gc.mjs [keep]
// Without "keep": segfault in dawn::native::InstanceBase::ProcessEvents (exit 139).
// With "keep" (the instance stays referenced, as GpuRuntime does): prints "ok".
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const keep = process.argv[2] === 'keep';
let instance = create([]);
const adapter = await instance.requestAdapter();
const device = await adapter.requestDevice();
globalThis.held = keep ? instance : null;
instance = null;
globalThis.gc?.();
const buf = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(buf, 0, new Float32Array(4));
await device.queue.onSubmittedWorkDone();
console.log('ok');
