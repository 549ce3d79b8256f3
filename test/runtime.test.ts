import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { backward } from '../src/autograd/backward.js';
import { full, tensor, zeros } from '../src/autograd/create.js';
import { add, mul, sum } from '../src/autograd/ops.js';
import { noGrad, scope, tidy } from '../src/autograd/tensor.js';
import { fillConstant } from '../src/kernels/fill.js';
import { sum as sumKernel } from '../src/kernels/reduce.js';
import { bucketSize, IN_BATCH_REUSE_BYTES } from '../src/gpu/pool.js';
import { createRuntime } from '../src/gpu/runtime.js';
import { createNodeRuntime } from '../src/gpu/node-device.js';
import { useRuntime } from '../src/autograd/tensor.js';
import { packUniforms, uniformLayout } from '../src/gpu/uniforms.js';
import { LimitError, DeviceError } from '../src/util/errors.js';
import { gpu } from './helpers.js';

describe('uniform packer follows WGSL layout rules', () => {
  it('aligns vec3 to 16, vec2 to 8, arrays of vec4 with stride 16, rounds the size to 16', () => {
    const l = uniformLayout([['a', 'f32'], ['b', 'vec3u'], ['c', 'u32'], ['d', 'vec2u'], ['e', 'vec4u', 2], ['f', 'i32']]);
    expect(l.fields.map((f) => f.offset)).toEqual([0, 16, 28, 32, 48, 80]);
    expect(l.size).toBe(96);
    const view = new DataView(new ArrayBuffer(l.size));
    packUniforms(l, { a: 1.5, b: [1, 2, 3], c: 7, d: [8, 9], e: [1, 2, 3, 4, 5], f: -2 }, view);
    expect(view.getFloat32(0, true)).toBe(1.5);
    expect(view.getUint32(24, true)).toBe(3);
    expect(view.getUint32(28, true)).toBe(7);
    expect(view.getUint32(36, true)).toBe(9);
    expect(view.getUint32(64, true)).toBe(5);
    expect(view.getInt32(80, true)).toBe(-2);
    expect(() => packUniforms(l, { a: 1 }, view)).toThrow("uniform 'b' missing");
  });
});

describe('buffer pool', () => {
  it('buckets sizes with at most 25% slack', () => {
    for (const n of [1, 255, 256, 4097, 10_000, 1_000_001]) {
      const b = bucketSize(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b).toBeLessThanOrEqual(Math.max(256, n * 1.25 + 256));
    }
  });
  it('hands a released buffer out again inside the batch that still reads it; the recorded reads see the contents they were recorded against', async () => {
    const rt = await gpu();
    await rt.sync();
    const n = IN_BATCH_REUSE_BYTES / 4; // the smallest buffer that is reused inside its batch
    const total = async (s: { storage: ReturnType<typeof rt.alloc>; shape: number[] }) => new Float32Array(await rt.read(s.storage))[0];
    const ones = fillConstant(rt, [n], 1);
    const s1 = sumKernel(rt, ones, [0]); // recorded, reads `ones`
    rt.free(ones.storage);
    // the same buffer, in the same batch: a kernel writes it after the read above
    const twos = fillConstant(rt, [n], 2);
    expect(twos.storage.buffer).toBe(ones.storage.buffer);
    const s2 = sumKernel(rt, twos, [0]);
    rt.free(twos.storage);
    // and again, now filled by a host upload: the upload must not land before s2's read
    const up = rt.alloc(n * 4);
    expect(up.buffer).toBe(ones.storage.buffer);
    rt.upload(up, new Float32Array(n).fill(3));
    const s3 = sumKernel(rt, { storage: up, shape: [n] }, [0]);
    expect([await total(s1), await total(s2), await total(s3)]).toEqual([n, 2 * n, 3 * n]);
    for (const s of [s1, s2, s3]) rt.free(s.storage);
    rt.free(up);
  });
  it('a small released buffer (under IN_BATCH_REUSE_BYTES) waits for the next submit', async () => {
    const rt = await gpu();
    await rt.sync();
    const a = rt.alloc(1000);
    const buf = a.buffer;
    rt.free(a);
    const b = rt.alloc(1000);
    expect(b.buffer).not.toBe(buf);
    rt.flush();
    const c = rt.alloc(1000);
    expect(c.buffer).toBe(buf);
    rt.free(b);
    rt.free(c);
  });
  it('a large request without an idle buffer of its bucket takes the smallest idle one of up to twice its size, never a smaller or a far larger one; FFM_POOL_FIT=1 keeps buckets exact', async () => {
    const rt = await createNodeRuntime(); // a pool of its own
    try {
      const M = IN_BATCH_REUSE_BYTES;
      const [big, mid, huge] = [rt.alloc(3 * M), rt.alloc(2.5 * M), rt.alloc(8 * M)];
      const bufs = [big.buffer, mid.buffer, huge.buffer];
      for (const s of [big, mid, huge]) rt.free(s);
      const before = rt.stats().allocatedBytes;
      const a = rt.alloc(2 * M); // 2.5 M and 3 M fit; the smaller of the two
      expect(a.buffer).toBe(bufs[1]);
      const b = rt.alloc(2 * M); // then 3 M
      expect(b.buffer).toBe(bufs[0]);
      const c = rt.alloc(2 * M); // 8 M is more than twice: a new buffer
      expect(bufs).not.toContain(c.buffer);
      expect(rt.stats().allocatedBytes).toBe(before + bucketSize(2 * M));
      // bound by the request's size: a kernel writes 2 M into the 3 M buffer and reads back 2 M
      rt.upload(b, new Float32Array(M / 2).fill(7));
      expect(new Float32Array(await rt.read(b)).every((v) => v === 7)).toBe(true);
      for (const s of [a, b, c]) rt.free(s);
    } finally {
      rt.destroy();
    }
    process.env.FFM_POOL_FIT = '1';
    const exact = await createNodeRuntime();
    try {
      const s = exact.alloc(3 * IN_BATCH_REUSE_BYTES);
      const buf = s.buffer;
      exact.free(s);
      expect(exact.alloc(2 * IN_BATCH_REUSE_BYTES).buffer).not.toBe(buf);
    } finally {
      exact.destroy();
      delete process.env.FFM_POOL_FIT;
    }
  });
  it('with FFM_POOL_PARK=1 (the rule before), a released buffer waits for the next submit', async () => {
    process.env.FFM_POOL_PARK = '1';
    try {
      const rt = await createNodeRuntime();
      const a = rt.alloc(IN_BATCH_REUSE_BYTES);
      const buf = a.buffer;
      rt.free(a);
      const b = rt.alloc(IN_BATCH_REUSE_BYTES);
      expect(b.buffer).not.toBe(buf);
      rt.flush();
      const c = rt.alloc(IN_BATCH_REUSE_BYTES);
      expect(c.buffer).toBe(buf);
      rt.destroy();
    } finally {
      delete process.env.FFM_POOL_PARK;
    }
  });
});

describe('ordering', () => {
  it('an upload lands after kernels recorded earlier that write the same buffer', async () => {
    const rt = await gpu();
    const t = zeros([64]); // a recorded, not yet submitted fill
    rt.upload(t.storage, new Float32Array(64).fill(3));
    expect(Array.from(await t.data())).toEqual(new Array(64).fill(3));
    t.dispose();
  });
});

describe('limits', () => {
  it('refuses a tensor larger than one storage binding, with the numbers', async () => {
    const rt = await gpu();
    const n = Math.floor(rt.maxBindingBytes / 4) + 1;
    expect(() => fillConstant(rt, [n], 1)).toThrow(LimitError);
    expect(() => fillConstant(rt, [n], 1)).toThrow(new RegExp(`${n * 4} bytes exceed this device's largest storage binding \\(${rt.maxBindingBytes} bytes`));
  });
  it('folds dispatches beyond 65535 workgroups into two dimensions and stays correct', async () => {
    const rt = await gpu();
    const n = 65535 * 64 + 12345; // fill uses one invocation per element, 64 per workgroup
    const x = fillConstant(rt, [n], 0.5);
    const s = sumKernel(rt, x, undefined);
    const v = new Float32Array(await rt.read(s.storage))[0]!;
    expect(Math.abs(v - n * 0.5) / (n * 0.5)).toBeLessThan(1e-5);
    rt.free(x.storage);
    rt.free(s.storage);
  });
});

describe('tensor lifetimes and the tape', () => {
  it('tidy disposes temporaries, keeps the result, and the pool returns to its size', async () => {
    const rt = await gpu();
    await rt.sync();
    const before = rt.stats().liveBuffers;
    const y = tidy(() => {
      const a = full([10], 2);
      const b = full([10], 3);
      return add(mul(a, b), a);
    });
    expect(rt.stats().liveBuffers).toBe(before + 1);
    expect(Array.from(await y.data())).toEqual(new Array(10).fill(8));
    y.dispose();
    expect(rt.stats().liveBuffers).toBe(before);
    expect(() => y.storage).toThrow(/used after dispose/);
  });
  it('accumulates gradients over two backward passes; detach and noGrad cut the tape', async () => {
    await gpu();
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    await scope(async () => {
      backward(sum(mul(x, x)));
      backward(sum(mul(x, x)));
    });
    expect(Array.from(await x.grad!.data())).toEqual([4, 8, 12]);
    const d = x.detach();
    expect(d.node).toBeNull();
    expect(d.requiresGrad).toBe(false);
    const z = noGrad(() => mul(x, x));
    expect(z.node).toBeNull();
    expect(() => backward(z)).toThrow(/not a scalar/);
    const s = noGrad(() => sum(z));
    expect(() => backward(s)).toThrow(/does not depend on anything that requires a gradient/);
  });
  it('a reshape view shares storage and survives its source being disposed', async () => {
    await gpu();
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const v = a.view([4]);
    a.dispose();
    expect(Array.from(await v.data())).toEqual([1, 2, 3, 4]);
    v.dispose();
  });
  it('rejects non-finite host values and names the element', async () => {
    await gpu();
    expect(() => tensor([1, NaN], [2])).toThrow('tensor: value 1 is NaN (expected finite numbers)');
    expect(() => zeros([2, -1])).toThrow('full: invalid shape [2,-1]');
  });
});

describe('device acquisition', () => {
  it('says what to install when no adapter exists', async () => {
    const fakeGpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(createRuntime(fakeGpu)).rejects.toThrow(DeviceError);
    await expect(createRuntime(fakeGpu)).rejects.toThrow(/apt-get install -y -t bookworm-backports mesa-vulkan-drivers/);
    await expect(createRuntime(undefined)).rejects.toThrow(/No WebGPU adapter/);
  });
  it('a process that used the GPU exits by itself with status 0', () => {
    const script = [
      "import { getNodeRuntime } from './src/gpu/node-device.ts';",
      "import { useRuntime } from './src/autograd/tensor.ts';",
      "import { randn } from './src/autograd/create.ts';",
      "import { conv2d, sum } from './src/autograd/ops.ts';",
      'const rt = await getNodeRuntime(); useRuntime(rt);',
      "const y = sum(conv2d(randn([1, 4, 16, 16], 1), randn([4, 4, 3, 3], 2)));",
      "console.log('value', Number.isFinite(await y.item()));",
      'rt.destroy();',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, cwd: process.cwd() });
    expect(r.stdout).toContain('value true');
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('kernel profiler', () => {
  it('times every dispatch by kernel variant, across batches, and leaves the results unchanged', async () => {
    const shared = await gpu();
    const rt = await createNodeRuntime({ profile: true });
    try {
      useRuntime(rt);
      await expect(rt.stopProfiling()).rejects.toThrow('profiling was not started');
      const a = full([1000], 2).keep();
      rt.startProfiling();
      let y = a;
      // 150 adds: more than one submitted batch (96 dispatches each), so every batch's timestamps are read
      for (let i = 0; i < 150; i++) y = add(y, a);
      const s = sum(y);
      const value = await s.item();
      const kernels = await rt.stopProfiling();
      expect(value).toBe(2 * 151 * 1000);
      const adds = kernels.find((k) => k.kernel.startsWith('elementwise.binary'));
      expect(adds?.dispatches).toBe(150);
      expect(kernels.reduce((n, k) => n + k.dispatches, 0)).toBe(rt.counters.dispatches - 1); // all but full()'s fill
      expect(kernels.reduce((t, k) => t + k.gpu_ms, 0)).toBeGreaterThan(0);
      expect(kernels.map((k) => k.gpu_ms)).toEqual([...kernels.map((k) => k.gpu_ms)].sort((p, q) => q - p));
    } finally {
      rt.destroy();
      useRuntime(shared);
    }
  });
});
