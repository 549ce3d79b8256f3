/** Tensor factories on the current runtime. */
import { fillConstant, randomNormal, randomUniform } from '../kernels/fill.js';
import { size } from '../kernels/program.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { runtime, Tensor, wrap } from './tensor.js';

export interface CreateOptions {
  requiresGrad?: boolean;
}

function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}`);
}

/** Uploads host values (row-major) as a tensor of `shape`. */
export function tensor(values: ArrayLike<number>, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  checkShape('tensor', shape);
  const n = size(shape);
  if (values.length !== n) throw new ShapeError(`tensor: ${values.length} values do not fill shape ${fmtShape(shape)} (${n} elements)`);
  const rt = runtime();
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new ShapeError(`tensor: value ${i} is ${data[i]} (expected finite numbers)`);
  }
  const storage = rt.alloc(Math.max(1, n) * 4, `tensor ${fmtShape(shape)}`);
  if (n > 0) rt.upload(storage, data);
  const t = new Tensor(rt, storage, shape, opts.requiresGrad ?? false);
  return t;
}

export function scalar(value: number): Tensor {
  return tensor([value], []);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const t = wrap(runtime(), fillConstant(runtime(), shape, value));
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** Normal(mean, std) from the counter-based stream `seed` (same values on every run and device). */
export function randn(shape: readonly number[], seed: number, std = 1, mean = 0, opts: CreateOptions = {}): Tensor {
  checkShape('randn', shape);
  const t = wrap(runtime(), randomNormal(runtime(), shape, seed, mean, std));
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** Uniform in [low, high) from the counter-based stream `seed`. */
export function rand(shape: readonly number[], seed: number, low = 0, high = 1, opts: CreateOptions = {}): Tensor {
  checkShape('rand', shape);
  const t = wrap(runtime(), randomUniform(runtime(), shape, seed, low, high));
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}
