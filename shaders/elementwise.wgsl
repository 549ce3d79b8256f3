// Elementwise unary and broadcasting binary ops. OP selects the function at pipeline
// creation (an override constant, folded by the compiler), so each op is its own pipeline
// while the source stays one file.

override OP: u32 = 0u;
override WG: u32 = 64u;
// 1 when the binary operands need broadcasting index math, 0 when all shapes are equal
override BROADCAST: u32 = 0u;

struct Unary { n: u32, a: f32, b: f32, _pad: u32 }
struct Binary {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  out_shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

const GELU_K: f32 = 0.7978845608028654; // sqrt(2/pi)

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
// tanh through exp of a clamped argument: some drivers return NaN for tanh of large |x|
fn safe_tanh(x: f32) -> f32 {
  let e = exp(2.0 * clamp(x, -15.0, 15.0));
  return (e - 1.0) / (e + 1.0);
}

fn unary_op(x: f32, a: f32, b: f32) -> f32 {
  switch OP {
    case 0u: { return x; }
    case 1u: { return -x; }
    case 2u: { return exp(x); }
    case 3u: { return log(x); }
    case 4u: { return sqrt(x); }
    case 5u: { return x * sigmoid(x); }
    case 6u: { return 0.5 * x * (1.0 + safe_tanh(GELU_K * (x + 0.044715 * x * x * x))); }
    case 7u: { return sigmoid(x); }
    case 8u: { return safe_tanh(x); }
    case 9u: { return max(x, 0.0); }
    case 10u: { return abs(x); }
    case 11u: { return x * x; }
    case 12u: { // x^a, defined for negative x when a is an integer
      let r = pow(abs(x), a);
      let odd = (abs(a - 2.0 * floor(a / 2.0)) == 1.0);
      return select(r, -r, x < 0.0 && odd);
    }
    case 13u: { return clamp(x, a, b); }
    case 14u: { return a * x + b; }
    case 15u: { let s = sigmoid(x); return s * (1.0 + x * (1.0 - s)); } // d silu / dx
    case 16u: { // d gelu(tanh approx) / dx
      let u = GELU_K * (x + 0.044715 * x * x * x);
      let t = safe_tanh(u);
      return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case 17u: { return inverseSqrt(x); }
    case 18u: { return sign(x); }
    case 19u: { return 1.0 / x; }
    case 20u: { return select(0.0, 1.0, x >= a && x <= b); } // inside [a, b]
    default: { return x; }
  }
}

fn binary_op(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return pow(x, y); }
    case 5u: { return max(x, y); }
    case 6u: { return min(x, y); }
    case 7u: { let d = x - y; return d * d; }
    case 8u: { return abs(x - y); }
    case 9u: { return select(0.0, 1.0, x >= y); }
    case 10u: { return x; } // expand: broadcast the first operand to the output shape
    default: { return x; }
  }
}

@group(0) @binding(0) var<uniform> u: Unary;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;

@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // 4 elements per invocation: fewer invocations is cheaper on software GPUs
  let base = (workgroup_index(wid, nwg) * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i < u.n) { y_out[i] = unary_op(x_in[i], u.a, u.b); }
  }
}

@group(0) @binding(0) var<uniform> ub: Binary;
@group(0) @binding(1) var<storage, read> a_in: array<f32>;
@group(0) @binding(2) var<storage, read> b_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> c_out: array<f32>;

fn dim(v: array<vec4u, 2>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }

@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = (workgroup_index(wid, nwg) * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i >= ub.n) { return; }
    if (BROADCAST == 0u) {
      c_out[i] = binary_op(a_in[i], b_in[i]);
    } else {
      var rem = i;
      var ia = 0u;
      var ib = 0u;
      for (var d = i32(ub.rank) - 1; d >= 0; d--) {
        let extent = dim(ub.out_shape, u32(d));
        let c = rem % extent;
        rem = rem / extent;
        ia += c * dim(ub.a_strides, u32(d));
        ib += c * dim(ub.b_strides, u32(d));
      }
      c_out[i] = binary_op(a_in[ia], b_in[ib]);
    }
  }
}

// Same-shape operands of a multiple of 4 elements: four vec4s per invocation, each operand read
// as vec4s (the scalar kernel's four floats per invocation are four lane-by-lane gathers each on
// lavapipe); ub.n counts vec4s here.
@group(0) @binding(1) var<storage, read> a4_in: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4_in: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c4_out: array<vec4f>;

@compute @workgroup_size(WG)
fn binary4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = (workgroup_index(wid, nwg) * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let q = base + k;
    if (q >= ub.n) { return; }
    let a = a4_in[q];
    let b = b4_in[q];
    c4_out[q] = vec4f(binary_op(a.x, b.x), binary_op(a.y, b.y), binary_op(a.z, b.z), binary_op(a.w, b.w));
  }
}
