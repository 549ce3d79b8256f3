/** Module and Parameter: named, nested parameter trees with deterministic initialisation. */
import { rand, zeros, ones } from '../autograd/create.js';
import { Tensor } from '../autograd/tensor.js';
import { SeededRng } from '../util/rng.js';

/** A trainable tensor: requires a gradient and outlives every scope. */
export type Parameter = Tensor;

function asParameter(t: Tensor): Parameter {
  t.requiresGrad = true;
  return t.keep();
}

let initRng = new SeededRng(0);

/**
 * Runs fn (typically a model constructor) with parameter initialisation drawn from `seed`:
 * the same seed gives the same weights on every run and device.
 */
export function withInitSeed<T>(seed: number, fn: () => T): T {
  const prev = initRng;
  initRng = new SeededRng(seed);
  try {
    return fn();
  } finally {
    initRng = prev;
  }
}

/** Next seed for one parameter's random stream. */
function nextSeed(): number {
  return Math.floor(initRng.next() * 2 ** 32);
}

/** PyTorch's default for conv and linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function uniformInit(shape: readonly number[], fanIn: number, gain = 1): Parameter {
  const b = gain / Math.sqrt(fanIn);
  return asParameter(rand(shape, nextSeed(), -b, b));
}

export function zerosInit(shape: readonly number[]): Parameter {
  return asParameter(zeros(shape));
}

export function onesInit(shape: readonly number[]): Parameter {
  return asParameter(ones(shape));
}

export abstract class Module {
  private readonly params = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();

  protected param(name: string, t: Parameter): Parameter {
    this.params.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Parameters with dotted names (PyTorch style), in registration order. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    this.zeroGrad();
    for (const p of this.parameters()) p.dispose();
  }
}
