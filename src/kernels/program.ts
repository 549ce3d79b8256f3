/** Shared plumbing for kernel launchers: programs from the bundled WGSL and dispatch helpers. */
import type { ComputeProgram, GpuRuntime, Storage } from '../gpu/runtime.js';
import { uniformLayout, type UniformField, type UniformLayout, type UniformValues } from '../gpu/uniforms.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { WGSL } from './wgsl.generated.js';
import { knob } from '../util/knob.js';

/** A device array as kernels see it: storage plus a row-major shape (f32). */
export interface DeviceArray {
  readonly storage: Storage;
  readonly shape: readonly number[];
}

export const WG = 64;

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

const codeCache = new Map<string, string>();
function source(file: string): string {
  let code = codeCache.get(file);
  if (code === undefined) {
    const body = WGSL[file];
    if (body === undefined) throw new Error(`no shader named ${file}.wgsl`);
    code = `${WGSL['common']}\n${body}`;
    codeCache.set(file, code);
  }
  return code;
}

const programs = new Map<string, ComputeProgram>();
/**
 * The program of one entry point and override set, made once: the runtime caches its pipeline
 * on the object, so a recurring launch finds it without building a key.
 */
export function program(file: string, entry: string, overrides: Record<string, number> = {}): ComputeProgram {
  let key = `${file}.${entry}`;
  for (const k in overrides) key += `|${k}=${overrides[k]}`;
  let p = programs.get(key);
  if (!p) programs.set(key, (p = { name: `${file}.${entry}`, code: source(file), entry, overrides: { WG, ...overrides } }));
  return p;
}

const layouts = new Map<string, UniformLayout>();
/** Uniform layouts are built once per kernel family. */
export function layoutOf(key: string, fields: readonly UniformField[]): UniformLayout {
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = uniformLayout(fields)));
  return l;
}

export function launch(
  rt: GpuRuntime,
  prog: ComputeProgram,
  layout: UniformLayout,
  uniforms: UniformValues,
  buffers: Storage[],
  workgroups: number,
): void {
  rt.dispatch({ program: prog, layout, uniforms, buffers, workgroups });
}

export function allocArray(rt: GpuRuntime, shape: readonly number[], op: string): Storage {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid output shape ${fmtShape(shape)}`);
  }
  return rt.alloc(Math.max(1, size(shape)) * 4, () => `${op} output ${fmtShape(shape)}`);
}

export function requireRank(op: string, name: string, shape: readonly number[], rank: number): void {
  if (shape.length !== rank) {
    throw new ShapeError(`${op}: ${name} must have rank ${rank}, got ${fmtShape(shape)}`);
  }
}

/** The kernels' tuning knobs (src/util/knob.ts: the GPU runtime reads one too, so it lives below both). */
export { knob };

/**
 * vec4s per invocation of a kernel that loops over VQ of them (`override VQ`): the knob's value
 * (default 4) where `run`, the vec4s an invocation's span must stay inside (a channel's map, a
 * sample's run of channels), is a multiple of it, else 1; with the overrides to pass (none at 1,
 * so entries without the loop take none).
 */
export function vec4sPerInvocation(knobName: string, run: number): { VQ: number; overrides: Record<string, number> } {
  const want = knob(knobName) ?? 4;
  const VQ = want > 1 && run % want === 0 ? want : 1;
  return { VQ, overrides: VQ > 1 ? { VQ } : {} };
}

/** A 1-element placeholder for optional bindings (an absent bias, affine parameters). */
const dummies = new WeakMap<GpuRuntime, Storage>();
export function dummy(rt: GpuRuntime): Storage {
  let s = dummies.get(rt);
  if (!s || s.disposed) {
    s = rt.alloc(16, 'placeholder');
    rt.zero(s);
    dummies.set(rt, s);
  }
  return s;
}
