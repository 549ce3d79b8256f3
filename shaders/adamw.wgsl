// One AdamW step in place (decoupled weight decay, Loshchilov & Hutter), with an optional
// gradient scale (global-norm clipping) and, when EWC = 1, the elastic weight consolidation
// penalty lambda/2 * sum F (p - anchor)^2 added to the gradient on the GPU.
// main: one tensor, its moments at float moff of the optimiser's flat moment buffers.
// main4: every parameter at once, all six buffers flat (src/nn/flat.ts), n counting vec4s.
override WG: u32 = 64u;
override EWC: u32 = 0u;
struct Params {
  n: u32, moff: u32, _p1: u32, _p2: u32,
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  weight_decay: f32, bc1: f32, bc2: f32, grad_scale: f32,
  ewc_lambda: f32, _p3: f32, _p4: f32, _p5: f32,
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read> fisher: array<f32>;
@group(0) @binding(6) var<storage, read> anchor: array<f32>;

// The update itself, once for both entry points: main runs it on a splat of one float and keeps
// .x (the same float arithmetic per lane, so the results are those of a scalar form).
struct AdamState { p: vec4f, m: vec4f, v: vec4f }
fn adamw_update(p: vec4f, grad_in: vec4f, m_in: vec4f, v_in: vec4f, fisher_in: vec4f, anchor_in: vec4f) -> AdamState {
  var g = grad_in * u.grad_scale;
  if (EWC == 1u) { g += u.ewc_lambda * fisher_in * (p - anchor_in); }
  let mi = u.beta1 * m_in + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v_in + (1.0 - u.beta2) * g * g;
  let step = (mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps);
  return AdamState(p - u.lr * (step + u.weight_decay * p), mi, vi);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.n) { return; }
  let j = u.moff + i;
  var f = 0.0;
  var a = 0.0;
  if (EWC == 1u) { f = fisher[i]; a = anchor[i]; }
  let s = adamw_update(vec4f(param[i]), vec4f(grad[i]), vec4f(m[j]), vec4f(v[j]), vec4f(f), vec4f(a));
  m[j] = s.m.x;
  v[j] = s.v.x;
  param[i] = s.p.x;
}

@group(0) @binding(1) var<storage, read_write> param4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v4: array<vec4f>;
@group(0) @binding(4) var<storage, read> grad4: array<vec4f>;
@group(0) @binding(5) var<storage, read> fisher4: array<vec4f>;
@group(0) @binding(6) var<storage, read> anchor4: array<vec4f>;

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.n) { return; }
  var f = vec4f(0.0);
  var a = vec4f(0.0);
  if (EWC == 1u) { f = fisher4[i]; a = anchor4[i]; }
  let s = adamw_update(param4[i], grad4[i], m4[i], v4[i], f, a);
  m4[i] = s.m;
  v4[i] = s.v;
  param4[i] = s.p;
}
