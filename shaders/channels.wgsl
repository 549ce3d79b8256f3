// Copies `count` channels of an NC(S) tensor into another at a channel offset: the one
// primitive behind concat and slice along channels and their gradients.
override WG: u32 = 64u;
struct Params { N: u32, count: u32, S: u32, src_c: u32, src_off: u32, dst_c: u32, dst_off: u32, _p: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.N * u.count * u.S) { return; }
  let s = i % u.S;
  let c = (i / u.S) % u.count;
  let n = i / (u.S * u.count);
  dst[(n * u.dst_c + u.dst_off + c) * u.S + s] = src[(n * u.src_c + u.src_off + c) * u.S + s];
}

// The same, by vec4s where S % 4 == 0 (u.S counts vec4s here), VQ of them per invocation: a
// sample's copied channels are one contiguous run of count * S vec4s in both tensors, so one
// division (by that run, a multiple of VQ) per invocation places them; lavapipe runs integer
// divisions lane by lane, and the per-float kernel makes three per float.
override VQ: u32 = 1u;
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q0 = (workgroup_index(wid, nwg) * WG + lid) * VQ;
  let run = u.count * u.S;
  if (q0 >= u.N * run) { return; }
  let n = q0 / run;
  let j = q0 - n * run;
  let d = (n * u.dst_c + u.dst_off) * u.S + j;
  let s = (n * u.src_c + u.src_off) * u.S + j;
  for (var k = 0u; k < VQ; k++) { dst4[d + k] = src4[s + k]; }
}
