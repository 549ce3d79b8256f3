/**
 * The GPU runtime: one device, a buffer pool, a pipeline cache, batched command recording
 * and readback. It knows nothing about what the kernels compute: a dispatch is WGSL source,
 * override constants (the compile-time key), packed uniforms, bound buffers and a count of
 * workgroups.
 */
import { DeviceError, LimitError } from '../util/errors.js';
import { knob } from '../util/knob.js';
import { BufferPool, POOL_FIT_RATIO, type PoolStats } from './pool.js';
import { packUniforms, type UniformLayout, type UniformValues } from './uniforms.js';
import { storageBindingTypes, type StorageBindingType } from './binding-layout.js';
import { gpuWait } from './wait.js';
import { DispatchProfiler, type KernelTime } from './profiler.js';

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
const UNIFORM_RING_BYTES = 1 << 16;
/** Dispatches recorded before the batch is submitted on its own. */
const MAX_DISPATCHES_PER_SUBMIT = 96;
/** Bytes of the uniform ring bound per dispatch (larger uniform blocks get their own size). */
const UNIFORM_SLOT = 256;
/** Bind groups kept for reuse; the cache starts over beyond this. */
const MAX_CACHED_BIND_GROUPS = 8192;

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  /** the explicit layout (dynamic uniform offset), or null for an automatic one */
  layout: GPUBindGroupLayout | null;
  layoutId: number;
  storageCount: number;
  /** per storage binding: read-only in the shader (null: not known, so every binding counts as written) */
  readOnly: boolean[] | null;
}

/** A GPU allocation owned by one tensor. Opaque above the runtime: only launchers bind it. */
export class Storage {
  disposed = false;
  /** bumped whenever recorded work may write it: derived buffers (packed weights) check it */
  version = 0;
  /** buffers computed from this one, by key (see GpuRuntime.derived); freed with it */
  derived: Map<string, { version: number; out: Storage }> | null = null;
  constructor(
    /** @internal */ readonly buffer: GPUBuffer,
    readonly byteSize: number,
  ) {}
}

export interface ComputeProgram {
  /** human-readable kernel name, used in error messages and the pipeline key */
  name: string;
  /** full WGSL source */
  code: string;
  entry?: string;
  /** override constants: the compile-time variant key */
  overrides?: Record<string, number>;
}

export interface Dispatch {
  program: ComputeProgram;
  layout: UniformLayout;
  uniforms: UniformValues;
  /** storage buffers bound at bindings 1..n (binding 0 is the uniform block) */
  buffers: Storage[];
  /** total workgroups; folded into x/y to respect maxComputeWorkgroupsPerDimension */
  workgroups: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** a short name for reports and file names */
  name: string;
}

export const NO_ADAPTER_HELP = [
  'No WebGPU adapter was found.',
  'On Linux without a GPU, install the Mesa software Vulkan driver (lavapipe) version 25 or newer; on Debian bookworm:',
  "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list",
  '  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
  '(bookworm\'s own mesa 22 is refused by Dawn.) Also set XDG_RUNTIME_DIR if it is unset.',
  'In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).',
].join('\n');

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  private pipelines = new Map<string, PipelineEntry>();
  /** the same program objects recur (kernels memoise them): a lookup without building a key */
  private programPipelines = new WeakMap<ComputeProgram, PipelineEntry>();
  private layouts = new Map<string, { layout: GPUBindGroupLayout; id: number }>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /** the pipeline last set in the open compute pass */
  private passPipeline: GPUComputePipeline | null = null;
  /** limits read once: the device's getters are native calls */
  private readonly maxWorkgroupsPerDimension: number;
  private readonly maxBindingBytesCached: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private uniformBuffer: GPUBuffer;
  private uniformStaging = new ArrayBuffer(UNIFORM_RING_BYTES);
  private uniformView = new DataView(this.uniformStaging);
  private uniformUsed = 0;
  private uniformAlign: number;
  private pendingErrors: Promise<GPUError | null>[] = [];
  private firstError: Error | null = null;
  private lost: string | null = null;
  private currentKernel = '';
  /** set by startProfiling: every dispatch then runs in a timestamped pass of its own */
  private profiler: DispatchProfiler | null = null;
  /** counters for benchmarks and tests */
  readonly counters = { dispatches: 0, submits: 0, pipelinesCompiled: 0, readbacks: 0, bindGroupsCreated: 0, autoLayoutPipelines: 0 };

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    /**
     * The GPU entry point and adapter the device came from. dawn.node frees its native
     * instance when the JS `GPU` object is garbage-collected, even with a live device, and
     * the next event poll then crashes (segfault in InstanceBase::ProcessEvents; reproduced
     * in scripts/repro/dawn-instance-gc.mjs). Holding them here keeps the instance alive.
     */
    private readonly keepAlive: readonly unknown[] = [],
  ) {
    this.limits = device.limits;
    this.maxWorkgroupsPerDimension = this.limits.maxComputeWorkgroupsPerDimension;
    this.maxBindingBytesCached = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    // knob FFM_POOL_PARK=1: freed buffers wait for the next submit (the pool's rule before session 18)
    this.pool = new BufferPool(device, STORAGE_USAGE, knob('FFM_POOL_PARK') === 1, knob('FFM_POOL_FIT') ?? POOL_FIT_RATIO);
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.uniformBuffer = device.createBuffer({ size: UNIFORM_RING_BYTES, usage: 0x40 /* UNIFORM */ | 0x08 });
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
    device.addEventListener?.('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.firstError ??= new DeviceError(`GPU error near kernel '${this.currentKernel}': ${e.message}`);
    });
  }

  /** A CPU-backed adapter (lavapipe, SwiftShader): kernels pick their software variants. */
  get isSoftware(): boolean {
    return (this.software ??= /llvmpipe|lavapipe|swiftshader|software/i.test(this.adapter.name));
  }
  private software: boolean | undefined;

  /** Largest tensor in bytes that one kernel binding can see. */
  get maxBindingBytes(): number {
    return this.maxBindingBytesCached;
  }

  /** `what` names the tensor in the error; a function is called only then (building names per allocation costs) */
  alloc(bytes: number, what: string | (() => string) = 'tensor'): Storage {
    this.checkAlive();
    if (bytes > this.maxBindingBytes) {
      throw new LimitError(
        `${typeof what === 'function' ? what() : what}: ${bytes} bytes exceed this device's largest storage binding (${this.maxBindingBytes} bytes, adapter ${this.adapter.name}); split the work into smaller tensors or tiles`,
      );
    }
    return new Storage(this.pool.acquire(bytes), bytes);
  }

  free(s: Storage): void {
    if (s.disposed) return;
    s.disposed = true;
    this.pool.release(s.buffer);
    if (s.derived) {
      for (const d of s.derived.values()) this.free(d.out);
      s.derived = null;
    }
  }

  /** The buffer `derived` keeps under `key` for `s` where it is still current, else null (nothing is built). */
  derivedIfCurrent(s: Storage, key: string): Storage | null {
    const hit = s.derived?.get(key);
    return hit && hit.version === s.version && !hit.out.disposed ? hit.out : null;
  }

  /**
   * A buffer computed from `s` by `build` (which records the work that fills `out`), kept with
   * `s` and rebuilt only when `s` may have been written since: a model's packed conv weights
   * are made once per weight update, not once per evaluation. Owned by `s`: never free it.
   */
  derived(s: Storage, key: string, bytes: number, build: (out: Storage) => void): Storage {
    const current = this.derivedIfCurrent(s, key);
    if (current) return current;
    const cache = (s.derived ??= new Map());
    let out = cache.get(key)?.out;
    if (!out || out.disposed || out.byteSize !== bytes) {
      if (out) this.free(out);
      out = this.alloc(bytes, `${key} of a ${s.byteSize}-byte tensor`);
    }
    build(out);
    cache.set(key, { version: s.version, out });
    return out;
  }

  /**
   * Copies host data into a storage. queue.writeBuffer runs before any command still being
   * recorded, so recorded work is submitted first: otherwise a pending kernel that writes the
   * same buffer (say, the zero fill of a new tensor) would overwrite the upload.
   */
  upload(s: Storage, data: ArrayBufferView, byteOffset = 0): void {
    s.version++;
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(s.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  zero(s: Storage): void {
    s.version++;
    this.endPass();
    this.commandEncoder().clearBuffer(s.buffer, 0, Math.ceil(s.byteSize / 4) * 4);
  }

  copy(src: Storage, srcOffset: number, dst: Storage, dstOffset: number, bytes: number): void {
    dst.version++;
    this.copyRaw(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  private copyRaw(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /**
   * Records one compute dispatch into the current batch. The common path costs a few
   * microseconds of JavaScript: the pipeline comes from a per-program cache, the uniforms go
   * to the ring buffer through a dynamic offset, and the bind group is reused whenever the same
   * storage buffers recur (buffers come from a pool, so a training step's recur every step).
   */
  dispatch(d: Dispatch): void {
    this.checkAlive();
    if (d.workgroups <= 0) return;
    const buffers = d.buffers;
    for (let i = 0; i < buffers.length; i++) {
      if (buffers[i]!.disposed) throw new DeviceError(`kernel ${d.program.name}: a bound tensor was already disposed`);
    }
    const maxDim = this.maxWorkgroupsPerDimension;
    const x = d.workgroups < maxDim ? d.workgroups : maxDim;
    const y = Math.ceil(d.workgroups / x);
    if (y > maxDim) {
      throw new LimitError(
        `kernel ${d.program.name}: ${d.workgroups} workgroups exceed ${maxDim} x ${maxDim}; the tensor is too large for one dispatch`,
      );
    }
    const size = d.layout.size;
    const slot = size <= UNIFORM_SLOT ? UNIFORM_SLOT : Math.ceil(size / 16) * 16;
    let offset = Math.ceil(this.uniformUsed / this.uniformAlign) * this.uniformAlign;
    if (offset + slot > UNIFORM_RING_BYTES) {
      this.flush();
      offset = 0;
    }
    packUniforms(d.layout, d.uniforms, this.uniformView, offset);
    this.uniformUsed = offset + size;

    const entry = this.pipelineFor(d.program, buffers.length);
    // what this dispatch may write is newer now (every binding, where the layout is automatic)
    for (let i = 0; i < buffers.length; i++) if (!entry.readOnly || !entry.readOnly[i]) buffers[i]!.version++;
    this.currentKernel = d.program.name;
    if (this.profiler) this.endPass();
    const pass = this.computePass(this.profiler?.passFor(profileLabel(d.program)));
    if (this.passPipeline !== entry.pipeline) {
      pass.setPipeline(entry.pipeline);
      this.passPipeline = entry.pipeline;
    }
    if (entry.layout) {
      pass.setBindGroup(0, this.cachedBindGroup(entry.layout, entry.layoutId, buffers, slot), [offset]);
    } else {
      // a kernel whose bindings could not be read from its WGSL: an automatic layout, a bind group per dispatch
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniformBuffer, offset, size } }];
      buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.buffer, size: Math.ceil(b.byteSize / 4) * 4 } }));
      pass.setBindGroup(0, this.device.createBindGroup({ layout: entry.pipeline.getBindGroupLayout(0), entries }));
    }
    pass.dispatchWorkgroups(x, y, 1);
    if (this.profiler) this.endPass();
    this.counters.dispatches++;
    if (++this.dispatchesInBatch >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** The bind group of these buffers under this layout, made once and reused while the buffers live. */
  private cachedBindGroup(layout: GPUBindGroupLayout, layoutId: number, buffers: Storage[], slot: number): GPUBindGroup {
    let key = `${layoutId}/${slot}`;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i]!;
      key += `/${this.bufferId(b.buffer)}:${b.byteSize}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniformBuffer, offset: 0, size: slot } }];
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i]!;
        entries.push({ binding: i + 1, resource: { buffer: b.buffer, size: Math.ceil(b.byteSize / 4) * 4 } });
      }
      group = this.device.createBindGroup({ layout, entries });
      // bounded: a long run with ever-new buffers (no pool reuse) would otherwise grow it forever
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      this.bindGroups.set(key, group);
      this.counters.bindGroupsCreated++;
    }
    return group;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) {
      this.pool.onSubmitted(); // nothing recorded can still read the parked buffers
      return;
    }
    this.endPass();
    this.profiler?.beforeSubmit(this.encoder);
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging, 0, Math.ceil(this.uniformUsed / 4) * 4);
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    this.encoder = null;
    this.dispatchesInBatch = 0;
    this.uniformUsed = 0;
    this.pool.onSubmitted();
  }

  /** Submits and waits until the GPU has finished all work. */
  async sync(): Promise<void> {
    this.flush();
    await gpuWait(this.device.queue.onSubmittedWorkDone());
    await this.throwPendingErrors();
  }

  /** Reads `bytes` bytes of a storage back to the host. */
  async read(s: Storage, byteOffset = 0, bytes = s.byteSize - byteOffset): Promise<ArrayBuffer> {
    this.checkAlive();
    const padded = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: padded, usage: 0x01 /* MAP_READ */ | 0x08 });
    this.copyRaw(s.buffer, byteOffset, staging, 0, padded);
    this.flush();
    this.counters.readbacks++;
    try {
      await gpuWait(staging.mapAsync(0x0001 /* READ */));
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
      await this.throwPendingErrors();
    }
  }

  /**
   * Starts timing every dispatch on the device (the runtime must have been opened with
   * { profile: true }); stopProfiling returns GPU milliseconds per kernel variant.
   */
  startProfiling(): void {
    this.flush();
    this.profiler = new DispatchProfiler(this.device, MAX_DISPATCHES_PER_SUBMIT);
  }

  async stopProfiling(): Promise<KernelTime[]> {
    const p = this.profiler;
    if (!p) throw new Error('stopProfiling: profiling was not started');
    await this.sync();
    this.profiler = null;
    await p.collect();
    return p.report();
  }

  stats(): PoolStats & { pipelines: number } {
    return { ...this.pool.stats(), pipelines: this.pipelines.size };
  }

  destroy(): void {
    this.flush();
    this.bindGroups.clear();
    this.pool.trim();
    this.uniformBuffer.destroy();
    this.device.destroy();
  }

  /** The pipeline of a program with `storageCount` storage bindings, compiled once; cached on the program object too. */
  private pipelineFor(p: ComputeProgram, storageCount: number): PipelineEntry {
    const hit = this.programPipelines.get(p);
    if (hit && hit.storageCount === storageCount) return hit;
    const key = `${p.name}|${p.entry ?? 'main'}|${p.overrides ? JSON.stringify(p.overrides) : ''}|${storageCount}`;
    let entry = this.pipelines.get(key);
    if (!entry) {
      const types = storageBindingTypes(p.code, p.entry ?? 'main', storageCount);
      const explicit = types ? this.bindGroupLayout(types) : null;
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code: p.code, label: p.name });
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: explicit ? this.device.createPipelineLayout({ bindGroupLayouts: [explicit.layout] }) : 'auto',
        compute: { module, entryPoint: p.entry ?? 'main', constants: p.overrides },
      });
      const scope = this.device.popErrorScope();
      this.pendingErrors.push(
        scope.then(async (err) => {
          if (!err) return null;
          const info = await module.getCompilationInfo();
          const lines = info.messages.map((m) => `  ${p.name}.wgsl:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
          this.firstError ??= new DeviceError(`kernel ${p.name} failed to compile:\n${lines.join('\n') || err.message}`);
          return err;
        }),
      );
      entry = { pipeline, layout: explicit?.layout ?? null, layoutId: explicit?.id ?? -1, storageCount, readOnly: types ? types.map((t) => t === 'read-only-storage') : null };
      this.pipelines.set(key, entry);
      this.counters.pipelinesCompiled++;
      if (!explicit) this.counters.autoLayoutPipelines++;
    }
    this.programPipelines.set(p, entry);
    return entry;
  }

  /** One explicit layout per signature (uniform with a dynamic offset, then the storage types), shared by every pipeline with it. */
  private bindGroupLayout(types: StorageBindingType[]): { layout: GPUBindGroupLayout; id: number } {
    const key = types.join(',');
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform', hasDynamicOffset: true } }];
      types.forEach((type, i) => entries.push({ binding: i + 1, visibility: 4, buffer: { type } }));
      l = { layout: this.device.createBindGroupLayout({ entries }), id: this.layouts.size };
      this.layouts.set(key, l);
    }
    return l;
  }

  private async throwPendingErrors(): Promise<void> {
    const pending = this.pendingErrors;
    this.pendingErrors = [];
    await Promise.all(pending);
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw e;
    }
  }

  private checkAlive(): void {
    if (this.lost) throw new DeviceError(this.lost);
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(descriptor?: GPUComputePassDescriptor): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass(descriptor));
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
      this.passPipeline = null;
    }
  }
}

/** Picks an adapter from a WebGPU entry point (navigator.gpu or the `webgpu` package) and opens a device with its real limits. */
/** The name a dispatch is reported under by the profiler: kernel, entry point and variant constants. */
function profileLabel(p: ComputeProgram): string {
  const consts = p.overrides ? Object.entries(p.overrides).filter(([k]) => k !== 'WG').map(([k, v]) => `${k}=${v}`).join(',') : '';
  return `${p.name}.${p.entry ?? 'main'}${consts ? `(${consts})` : ''}`;
}

export interface RuntimeOptions {
  powerPreference?: GPUPowerPreference;
  /** ask for timestamp queries so that GpuRuntime.startProfiling works (where the adapter has them) */
  profile?: boolean;
}

export async function createRuntime(gpu: GPU | undefined, opts: RuntimeOptions = {}): Promise<GpuRuntime> {
  if (!gpu) throw new DeviceError(NO_ADAPTER_HELP);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new DeviceError(NO_ADAPTER_HELP);
  const wanted = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
    'maxBindGroups',
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const k of wanted) requiredLimits[k] = adapter.limits[k];
  const requiredFeatures: GPUFeatureName[] = opts.profile && adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ').trim() || 'unknown adapter';
  return new GpuRuntime(device, {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    name,
  }, [gpu, adapter]);
}
