/** In-place AdamW update with optional gradient scale and EWC penalty (shaders/adamw.wgsl). */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError } from '../util/errors.js';
import { ceilDiv, dummy, launch, layoutOf, program, WG } from './program.js';

const FIELDS = [
  ['n', 'u32'], ['moff', 'u32'], ['_p1', 'u32'], ['_p2', 'u32'],
  ['lr', 'f32'], ['beta1', 'f32'], ['beta2', 'f32'], ['eps', 'f32'],
  ['weight_decay', 'f32'], ['bc1', 'f32'], ['bc2', 'f32'], ['grad_scale', 'f32'],
  ['ewc_lambda', 'f32'], ['_p3', 'f32'], ['_p4', 'f32'], ['_p5', 'f32'],
] as const;

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for bias correction */
  step: number;
  /** multiplies the gradient first (global-norm clipping) */
  gradScale?: number;
}

export interface EwcTerm {
  fisher: Storage;
  anchor: Storage;
  lambda: number;
}

function uniforms(n: number, moff: number, h: AdamWHyper, ewc: EwcTerm | undefined) {
  return {
    n, moff, _p1: 0, _p2: 0,
    lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps,
    weight_decay: h.weightDecay, bc1: 1 - h.beta1 ** h.step, bc2: 1 - h.beta2 ** h.step, grad_scale: h.gradScale ?? 1,
    ewc_lambda: ewc?.lambda ?? 0, _p3: 0, _p4: 0, _p5: 0,
  };
}

/** the EWC bindings are part of the layout even when the override disables them */
function bindings(rt: GpuRuntime, param: Storage, m: Storage, v: Storage, grad: Storage, ewc: EwcTerm | undefined): Storage[] {
  return ewc ? [param, m, v, grad, ewc.fisher, ewc.anchor] : [param, m, v, grad, dummy(rt), dummy(rt)];
}

/** One tensor of n floats; its moments are floats moff .. moff + n of m and v. */
export function adamwStep(rt: GpuRuntime, n: number, param: Storage, m: Storage, v: Storage, grad: Storage, h: AdamWHyper, ewc?: EwcTerm, moff = 0): void {
  launch(rt, program('adamw', 'main', { EWC: ewc ? 1 : 0 }), layoutOf('adamw', FIELDS), uniforms(n, moff, h, ewc), bindings(rt, param, m, v, grad, ewc), ceilDiv(n, WG));
}

/** Every parameter at once: all buffers flat and of the same n floats, a multiple of 4 (src/nn/flat.ts). */
export function adamwStepFlat(rt: GpuRuntime, n: number, param: Storage, m: Storage, v: Storage, grad: Storage, h: AdamWHyper, ewc?: EwcTerm): void {
  if (n % 4) throw new ShapeError(`adamwStepFlat: ${n} floats is not a whole number of vec4s`);
  launch(rt, program('adamw', 'main4', { EWC: ewc ? 1 : 0 }), layoutOf('adamw', FIELDS), uniforms(n / 4, 0, h, ewc), bindings(rt, param, m, v, grad, ewc), ceilDiv(n / 4, WG));
}
