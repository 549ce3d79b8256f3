// Constant fill and counter-based random fill (see src/util/rng.ts for the same stream on the CPU).
override WG: u32 = 64u;
// 0: constant a; 1: uniform in [a, b); 2: normal with mean a and std b
override MODE: u32 = 0u;

struct Params { n: u32, seed: u32, offset: u32, _pad: u32, a: f32, b: f32, _p1: f32, _p2: f32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn random_bits(seed: u32, i: u32) -> u32 {
  let key = pcg_hash(seed);
  return pcg_hash(pcg_hash(i ^ key) + key);
}
fn uniform_at(seed: u32, i: u32) -> f32 {
  return f32(random_bits(seed, i) >> 8u) / 16777216.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.n) { return; }
  let c = u.offset + i;
  switch MODE {
    case 0u: { out[i] = u.a; }
    case 1u: { out[i] = u.a + (u.b - u.a) * uniform_at(u.seed, c); }
    default: {
      let u1 = 1.0 - uniform_at(u.seed, 2u * c);
      let u2 = uniform_at(u.seed, 2u * c + 1u);
      out[i] = u.a + u.b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    }
  }
}
