/**
 * Tensor: a shape over a reference-counted device storage, an optional gradient and the tape
 * node that produced it. Lifetimes are explicit (dispose) or scoped (tidy/scope dispose every
 * tensor created inside except the ones returned or kept), in the manner of tf.tidy.
 */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import type { DeviceArray } from '../kernels/program.js';
import { ShapeError, fmtShape } from '../util/errors.js';

/** A tape entry: the inputs an op saw and the rule mapping the output gradient to theirs. */
export interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** returns one gradient per input (null where the input needs none); runs under noGrad */
  backward: (grad: Tensor) => (Tensor | null)[];
}

/** Shared ownership of one storage by a tensor and its views (reshape, detach). */
class Owner {
  refs = 1;
  constructor(readonly storage: Storage) {}
}

let currentRuntime: GpuRuntime | null = null;
let gradEnabled = true;
const scopes: Set<Tensor>[] = [];
let nextId = 1;

/** Sets the runtime that factories (tensor, zeros, randn, ...) allocate on. */
export function useRuntime(rt: GpuRuntime): void {
  currentRuntime = rt;
}

export function runtime(): GpuRuntime {
  if (!currentRuntime) throw new Error('no GPU runtime: call useRuntime(await createNodeRuntime()) (Node) or useRuntime(await createRuntime(navigator.gpu)) first');
  return currentRuntime;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export class Tensor implements DeviceArray {
  readonly id = nextId++;
  readonly shape: readonly number[];
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  /** kept tensors survive the scope they were created in */
  kept = false;
  private owner: Owner | null;

  constructor(
    readonly rt: GpuRuntime,
    storage: Storage | Owner,
    shape: readonly number[],
    requiresGrad = false,
  ) {
    this.owner = storage instanceof Owner ? storage : new Owner(storage);
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
    scopes[scopes.length - 1]?.add(this);
  }

  get storage(): Storage {
    if (!this.owner) throw new ShapeError(`tensor #${this.id} ${fmtShape(this.shape)} was used after dispose()`);
    return this.owner.storage;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get disposed(): boolean {
    return this.owner === null;
  }

  /** A tensor over the same storage with another shape of the same size (no copy). */
  view(shape: readonly number[]): Tensor {
    const owner = this.ownerOrThrow();
    owner.refs++;
    return new Tensor(this.rt, owner, shape);
  }

  /** Replaces the values in place with host data of the same size (restoring a checkpoint). */
  write(data: Float32Array): void {
    if (data.length !== this.size) throw new ShapeError(`write: ${data.length} values for a tensor of shape ${fmtShape(this.shape)} (${this.size})`);
    this.rt.upload(this.storage, data);
  }

  /** Same values, cut from the tape. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Marks the tensor to outlive the current scope; returns it. */
  keep(): this {
    this.kept = true;
    for (const s of scopes) s.delete(this);
    return this;
  }

  dispose(): void {
    if (!this.owner) return;
    if (--this.owner.refs === 0) this.rt.free(this.owner.storage);
    this.owner = null;
    this.node = null;
    for (let i = scopes.length - 1; i >= 0; i--) scopes[i]!.delete(this);
  }

  /** Copies the values to the host. */
  async data(): Promise<Float32Array> {
    const bytes = await this.rt.read(this.storage, 0, this.size * 4);
    return new Float32Array(bytes);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item: tensor ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.data())[0]!;
  }

  toString(): string {
    return `Tensor#${this.id}${fmtShape(this.shape)}${this.requiresGrad ? ' requiresGrad' : ''}`;
  }

  private ownerOrThrow(): Owner {
    if (!this.owner) throw new ShapeError(`tensor #${this.id} ${fmtShape(this.shape)} was used after dispose()`);
    return this.owner;
  }
}

/** Wraps a kernel result as a tensor. */
export function wrap(rt: GpuRuntime, a: DeviceArray): Tensor {
  return new Tensor(rt, a.storage, a.shape);
}

/** Runs fn with the tape off. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

function collect(result: unknown, into: Set<Tensor>): void {
  if (result instanceof Tensor) into.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, into);
  else if (result && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) collect(v, into);
  }
}

function closeScope(created: Set<Tensor>, result: unknown): void {
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of created) {
    if (keep.has(t) || t.kept) continue;
    t.dispose();
  }
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of keep) if (!t.disposed && !t.kept) parent.add(t);
}

/** Runs fn and disposes every tensor it created, except those it returns (also inside arrays/plain objects) or keeps. */
export function tidy<T>(fn: () => T): T {
  const created = new Set<Tensor>();
  scopes.push(created);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    closeScope(created, undefined);
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy: fn returned a promise; use scope() for async work');
  closeScope(created, result);
  return result;
}

/** tidy for async functions. Do not interleave two scopes concurrently. */
export async function scope<T>(fn: () => Promise<T>): Promise<T> {
  const created = new Set<Tensor>();
  scopes.push(created);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    scopes.splice(scopes.lastIndexOf(created), 1);
    closeScope(created, undefined);
    throw e;
  }
  scopes.splice(scopes.lastIndexOf(created), 1);
  closeScope(created, result);
  return result;
}
