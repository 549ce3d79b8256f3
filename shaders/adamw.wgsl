// One AdamW step in place (decoupled weight decay, Loshchilov & Hutter), with an optional
// gradient scale (global-norm clipping) and, when EWC = 1, the elastic weight consolidation
// penalty lambda/2 * sum F (p - anchor)^2 added to the gradient on the GPU.
override WG: u32 = 64u;
override EWC: u32 = 0u;
struct Params {
  n: u32, _p0: u32, _p1: u32, _p2: u32,
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
  let p = param[i];
  var g = grad[i] * u.grad_scale;
  if (EWC == 1u) { g += u.ewc_lambda * fisher[i] * (p - anchor[i]); }
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let step = (mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps);
  param[i] = p - u.lr * (step + u.weight_decay * p);
}
