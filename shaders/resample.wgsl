// 2x up/down-sampling on NCHW planes, each as a gather over its output (no atomics):
// nearest and bilinear (align_corners = false, PyTorch's convention) upsampling, 2x2 average
// pooling (floor of odd sizes), and their gradients.
override WG: u32 = 64u;
struct Params { planes: u32, H: u32, W: u32, OH: u32, OW: u32, scale: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn out_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 { return workgroup_index(wid, nwg) * WG + lid; }

// nearest 2x: input H x W -> output OH x OW = 2H x 2W
@compute @workgroup_size(WG)
fn up_nearest(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  if (i >= u.planes * u.OH * u.OW) { return; }
  let ox = i % u.OW;
  let oy = (i / u.OW) % u.OH;
  let p = i / (u.OW * u.OH);
  dst[i] = u.scale * src[(p * u.H + oy / 2u) * u.W + ox / 2u];
}

// The same two as vec4 rows where W % 4 == 0 (up) or OW % 4 == 0 with even H, W (sum): one
// invocation per four input (up) or output (sum) pixels of a row, one division per invocation.
// On lavapipe an integer division by a uniform is a scalar loop over the lanes; the per-output
// kernels above make three per float, and up_nearest ran at a few GB/s.
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

// invocation i -> (row, quad within the row) for rows of qw vec4s: the one division
fn row_quad(i: u32, qw: u32) -> vec2u {
  let r = i / qw;
  return vec2u(r, i - r * qw);
}

// nearest 2x: input row r (plane p, row y: r = p H + y) quad q -> output rows 2r, 2r + 1
// (OH = 2H), columns 8q .. 8q + 7: two vec4s per row
@compute @workgroup_size(WG)
fn up_nearest4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  let qw = u.W / 4u;
  if (i >= u.planes * u.H * qw) { return; }
  let rq = row_quad(i, qw);
  let r = rq.x;
  let q = rq.y;
  let v = u.scale * src4[i];
  let lo = v.xxyy;
  let hi = v.zzww;
  let o0 = (2u * r * u.OW) / 4u + 2u * q;
  let o1 = o0 + u.OW / 4u;
  dst4[o0] = lo;
  dst4[o0 + 1u] = hi;
  dst4[o1] = lo;
  dst4[o1 + 1u] = hi;
}

// sum of 2x2 blocks: output row r (H = 2 OH, W = 2 OW) quad q <- input rows 2r, 2r + 1,
// columns 8q .. 8q + 7
@compute @workgroup_size(WG)
fn sum2x2_4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  let qw = u.OW / 4u;
  if (i >= u.planes * u.OH * qw) { return; }
  let rq = row_quad(i, qw);
  let r = rq.x;
  let q = rq.y;
  let s0 = (2u * r * u.W) / 4u + 2u * q;
  let s1 = s0 + u.W / 4u;
  let a = src4[s0] + src4[s1];
  let b = src4[s0 + 1u] + src4[s1 + 1u];
  dst4[i] = u.scale * vec4f(a.x + a.y, a.z + a.w, b.x + b.y, b.z + b.w);
}

// gradient of nearest 2x: src = dy (2H x 2W), dst = dx (H x W): sum of each 2x2 block.
// Also serves 2x2 average pooling (scale 0.25) since both sum aligned 2x2 blocks.
@compute @workgroup_size(WG)
fn sum2x2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  if (i >= u.planes * u.OH * u.OW) { return; }
  let ox = i % u.OW;
  let oy = (i / u.OW) % u.OH;
  let p = i / (u.OW * u.OH);
  let b = (p * u.H + 2u * oy) * u.W + 2u * ox;
  dst[i] = u.scale * (src[b] + src[b + 1u] + src[b + u.W] + src[b + u.W + 1u]);
}

// gradient of 2x2 average pooling: src = dy (OH x OW), dst = dx (H x W)
@compute @workgroup_size(WG)
fn avgpool_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  if (i >= u.planes * u.H * u.W) { return; }
  let x = i % u.W;
  let y = (i / u.W) % u.H;
  let p = i / (u.W * u.H);
  let ox = x / 2u;
  let oy = y / 2u;
  dst[i] = select(0.0, 0.25 * src[(p * u.OH + oy) * u.OW + ox], ox < u.OW && oy < u.OH);
}

// source coordinate of output o for 2x bilinear, align_corners = false
fn src_coord(o: u32, n: u32) -> vec3f {
  let s = max((f32(o) + 0.5) * 0.5 - 0.5, 0.0);
  let i0 = min(u32(floor(s)), n - 1u);
  let i1 = min(i0 + 1u, n - 1u);
  return vec3f(f32(i0), f32(i1), s - f32(i0));
}

@compute @workgroup_size(WG)
fn up_bilinear(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  if (i >= u.planes * u.OH * u.OW) { return; }
  let ox = i % u.OW;
  let oy = (i / u.OW) % u.OH;
  let p = i / (u.OW * u.OH);
  let cx = src_coord(ox, u.W);
  let cy = src_coord(oy, u.H);
  let b = p * u.H * u.W;
  let r0 = b + u32(cy.x) * u.W;
  let r1 = b + u32(cy.y) * u.W;
  let top = mix(src[r0 + u32(cx.x)], src[r0 + u32(cx.y)], cx.z);
  let bot = mix(src[r1 + u32(cx.x)], src[r1 + u32(cx.y)], cx.z);
  dst[i] = mix(top, bot, cy.z);
}

// weight of input index i in the interpolation of output o (0 when o does not touch i)
fn bilinear_weight(o: u32, i: u32, n: u32) -> f32 {
  let c = src_coord(o, n);
  return select(0.0, 1.0 - c.z, u32(c.x) == i) + select(0.0, c.z, u32(c.y) == i);
}

// gradient of bilinear 2x: src = dy (OH x OW), dst = dx (H x W); outputs 2i-2 .. 2i+3 can touch input i
@compute @workgroup_size(WG)
fn up_bilinear_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  if (i >= u.planes * u.H * u.W) { return; }
  let x = i % u.W;
  let y = (i / u.W) % u.H;
  let p = i / (u.W * u.H);
  var acc = 0.0;
  for (var dy = 0u; dy < 6u; dy++) {
    let oy = i32(2u * y + dy) - 2;
    if (oy < 0 || oy >= i32(u.OH)) { continue; }
    let wy = bilinear_weight(u32(oy), y, u.H);
    if (wy == 0.0) { continue; }
    for (var dx = 0u; dx < 6u; dx++) {
      let ox = i32(2u * x + dx) - 2;
      if (ox < 0 || ox >= i32(u.OW)) { continue; }
      let wx = bilinear_weight(u32(ox), x, u.W);
      acc += wy * wx * src[(p * u.OH + u32(oy)) * u.OW + u32(ox)];
    }
  }
  dst[i] = acc;
}

// Zero dilation by 2: src H x W -> dst OH x OW with dst[2y][2x] = src[y][x] and zeros between
// (and past 2H, 2W). A stride-2 convolution's input gradient is the stride-1 one of its output
// gradient dilated so (src/kernels/conv2d.ts). One invocation per pair of output rows' pixel pair
// (2y, 2x .. 2x+1) and (2y+1, ...): the odd row is all zeros.
@compute @workgroup_size(WG)
fn dilate2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = out_index(wid, nwg, lid);
  let hw = (u.OW + 1u) / 2u; // pixel pairs per output row
  let hh = (u.OH + 1u) / 2u; // pairs of output rows
  if (i >= u.planes * hh * hw) { return; }
  let x = i % hw;
  let r = i / hw;
  let y = r % hh;
  let p = r / hh;
  var v = 0.0;
  if (y < u.H && x < u.W) { v = src[(p * u.H + y) * u.W + x]; }
  let o = (p * u.OH + 2u * y) * u.OW + 2u * x;
  dst[o] = v;
  if (2u * x + 1u < u.OW) { dst[o + 1u] = 0.0; }
  if (2u * y + 1u < u.OH) {
    dst[o + u.OW] = 0.0;
    if (2u * x + 1u < u.OW) { dst[o + u.OW + 1u] = 0.0; }
  }
}
