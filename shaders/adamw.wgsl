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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.n) { return; }
  let j = u.moff + i;
  let p = param[i];
  var g = grad[i] * u.grad_scale;
  if (EWC == 1u) { g += u.ewc_lambda * fisher[i] * (p - anchor[i]); }
  let mi = u.beta1 * m[j] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v[j] + (1.0 - u.beta2) * g * g;
  m[j] = mi;
  v[j] = vi;
  let step = (mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps);
  param[i] = p - u.lr * (step + u.weight_decay * p);
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
  let p = param4[i];
  var g = grad4[i] * u.grad_scale;
  if (EWC == 1u) { g += u.ewc_lambda * fisher4[i] * (p - anchor4[i]); }
  let mi = u.beta1 * m4[i] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v4[i] + (1.0 - u.beta2) * g * g;
  m4[i] = mi;
  v4[i] = vi;
  let step = (mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps);
  param4[i] = p - u.lr * (step + u.weight_decay * p);
}
