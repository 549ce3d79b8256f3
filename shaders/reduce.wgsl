// Sum over a set of axes. The launcher coalesces the input shape into "kept" dims (one per
// output element) and "reduced" dims, each with its input stride. The reduced range can be
// split into PARTS chunks (partial sums laid out [out][part]) when there are too few outputs
// to keep the device busy; a second pass sums the parts.

override WG: u32 = 64u;

struct Params {
  out_count: u32, red_count: u32, kept_rank: u32, red_rank: u32,
  parts: u32, chunk: u32, _p0: u32, scale: f32,
  kept_shape: array<vec4u, 2>,
  kept_strides: array<vec4u, 2>,
  red_shape: array<vec4u, 2>,
  red_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn dim(v: array<vec4u, 2>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }

// the input offset of output o: its position along the kept dims
fn kept_base(o: u32) -> u32 {
  var rem = o;
  var base = 0u;
  for (var d = i32(u.kept_rank) - 1; d >= 0; d--) {
    let e = dim(u.kept_shape, u32(d));
    base += (rem % e) * dim(u.kept_strides, u32(d));
    rem = rem / e;
  }
  return base;
}

// the sum of reduced positions r0 .. r1 of the output at input offset base
fn sum_range(base: u32, r0: u32, r1: u32) -> f32 {
  var acc = 0.0;
  if (u.red_rank == 1u) {
    let s = dim(u.red_strides, 0u);
    for (var r = r0; r < r1; r++) { acc += x[base + r * s]; }
    return acc;
  }
  // innermost reduced dim is walked directly, the outer ones by div/mod once per row
  let inner = dim(u.red_shape, u.red_rank - 1u);
  let s_in = dim(u.red_strides, u.red_rank - 1u);
  var r = r0;
  while (r < r1) {
    var q = r / inner;
    var off = base;
    for (var d = i32(u.red_rank) - 2; d >= 0; d--) {
      let e = dim(u.red_shape, u32(d));
      off += (q % e) * dim(u.red_strides, u32(d));
      q = q / e;
    }
    let j0 = r % inner;
    let j1 = min(inner, j0 + (r1 - r));
    for (var j = j0; j < j1; j++) { acc += x[off + j * s_in]; }
    r += j1 - j0;
  }
  return acc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.out_count * u.parts) { return; }
  let o = t / u.parts;
  let r0 = (t % u.parts) * u.chunk;
  out[t] = sum_range(kept_base(o), r0, min(u.red_count, r0 + u.chunk)) * u.scale;
}

// ---- one workgroup per output: its WG invocations each sum a contiguous chunk of the reduced
//      range (chunk = ceil(red_count / WG)), then a fixed-order tree in workgroup memory adds the
//      WG partials. One pass where main needs two for long reductions with few outputs (a conv
//      bias gradient: 16-128 outputs of N*H*W terms). ----
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = workgroup_index(wid, nwg);
  var acc = 0.0;
  if (o < u.out_count) { // uniform per workgroup: every invocation reaches the barriers below
    let r0 = min(u.red_count, lid * u.chunk);
    acc = sum_range(kept_base(o), r0, min(u.red_count, r0 + u.chunk));
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < u.out_count) { out[o] = partial[0] * u.scale; }
}

// ---- sum of squares in chunks (the gradient norm) ----
// Invocation t writes the sum of x[t*chunk .. (t+1)*chunk)^2 to sq_out[offset + t]; the host adds
// the chunks of every tensor in float64, so one readback gives the global norm and no pass or
// temporary per tensor is needed.
struct SumSq { count: u32, offset: u32, chunk: u32, _p: u32 }
@group(0) @binding(0) var<uniform> sq: SumSq;
@group(0) @binding(1) var<storage, read> sq_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sq_out: array<f32>;

@compute @workgroup_size(WG)
fn sum_squares(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let start = t * sq.chunk;
  if (start >= sq.count) { return; }
  let end = min(start + sq.chunk, sq.count);
  var s = 0.0;
  for (var i = start; i < end; i++) {
    let v = sq_x[i];
    s += v * v;
  }
  sq_out[sq.offset + t] = s;
}
