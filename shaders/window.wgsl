// Square windows of a token map, for attention within windows: a [B, C, H, W] map (tokens
// along H x W, row-major) <-> [B * nwy * nwx, C, wh * ww], window (iy, ix) covering rows
// oy .. oy + wh - 1 and columns ox .. ox + ww - 1 with oy = min(iy * wh, H - wh) (likewise ox):
// the last window of a row or column is moved back inside the map, so every window is whole
// and the last two overlap where wh does not divide H. gather copies every window's tokens;
// scatter writes each token once, from the window that owns it (iy = min(y / wh, nwy - 1)).
// One invocation copies a row of a window (gather) or the part of a map row one window owns
// (scatter): on lavapipe an integer division is a scalar loop over the lanes, and per element
// the index arithmetic cost more than the copy.
override WG: u32 = 64u;
struct Params { B: u32, C: u32, H: u32, W: u32, wh: u32, ww: u32, nwy: u32, nwx: u32, G: u32, has_affine: u32, act: u32, eps: f32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// one invocation per window row: dst[(b * nw + w) * C + c][py * ww ..][0 .. ww)
@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  let nw = u.nwy * u.nwx;
  if (i >= u.B * nw * u.C * u.wh) { return; }
  let py = i % u.wh;
  let bwc = i / u.wh; // (b * nw + w) * C + c
  let c = bwc % u.C;
  let bw = bwc / u.C;
  let w = bw % nw;
  let b = bw / nw;
  let y = window_origin(w / u.nwx, u.wh, u.H) + py;
  let s0 = ((b * u.C + c) * u.H + y) * u.W + window_origin(w % u.nwx, u.ww, u.W);
  let d0 = i * u.ww;
  for (var x = 0u; x < u.ww; x++) { dst[d0 + x] = src[s0 + x]; }
}

// one invocation per map row and window column: the tokens x of row y that window (iy, ix) owns
// (ix * ww .. (ix + 1) * ww, the last window to W) from that window
@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.B * u.C * u.H * u.nwx) { return; }
  let ix = i % u.nwx;
  let row = i / u.nwx; // (b * C + c) * H + y
  let y = row % u.H;
  let bc = row / u.H;
  let c = bc % u.C;
  let b = bc / u.C;
  let iy = min(y / u.wh, u.nwy - 1u);
  let ox = window_origin(ix, u.ww, u.W);
  let x0 = ix * u.ww;
  let x1 = select(x0 + u.ww, u.W, ix == u.nwx - 1u);
  let s0 = ((b * u.nwy * u.nwx + iy * u.nwx + ix) * u.C + c) * u.wh * u.ww + (y - window_origin(iy, u.wh, u.H)) * u.ww - ox;
  for (var x = x0; x < x1; x++) { dst[row * u.W + x] = src[s0 + x]; }
}

// Group norm statistics of every window, read from the map in place (no gathered copy): one
// workgroup per (batch entry, window, group) segment, [B * nw * G, 2] of mean and
// 1/sqrt(var + eps) as the norm kernels keep them; its lanes take the segment's window rows
// (channel of the group, row of the window) in turn (RW, the reductions and shifted_moments:
// common.wgsl). ONE_PASS = 1: one read of the segment (shifted sums, as norm.wgsl's stats); 0:
// two passes, the mean and then the centred squares.
override ONE_PASS: u32 = 1u;

// where window row r of a segment starts in src (r: channel r / wh of the group, row r % wh of the
// window; c0: the group's first channel of sample b; (ox, oy): the window's origin)
fn window_row(c0: u32, r: u32, oy: u32, ox: u32) -> u32 {
  return ((c0 + r / u.wh) * u.H + oy + r % u.wh) * u.W + ox;
}

@compute @workgroup_size(RW)
fn stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let seg = workgroup_index(wid, nwg);
  let nw = u.nwy * u.nwx;
  if (seg >= u.B * nw * u.G) { return; }
  let g = seg % u.G;
  let bw = seg / u.G;
  let w = bw % nw;
  let b = bw / nw;
  let oy = window_origin(w / u.nwx, u.wh, u.H);
  let ox = window_origin(w % u.nwx, u.ww, u.W);
  let Cg = u.C / u.G;
  let rows = Cg * u.wh;
  let c0 = b * u.C + g * Cg;
  let n = f32(rows * u.ww);
  var mean: f32;
  var variance: f32;
  if (ONE_PASS == 1u) {
    let k = src[window_row(c0, 0u, oy, ox)];
    var acc = vec2f(0.0);
    for (var r = lid; r < rows; r += RW) {
      let row = window_row(c0, r, oy, ox);
      for (var x = 0u; x < u.ww; x++) { let d = src[row + x] - k; acc += vec2f(d, d * d); }
    }
    let mv = shifted_moments(acc, k, n, lid);
    mean = mv.x;
    variance = mv.y;
  } else {
    var sum = 0.0;
    for (var r = lid; r < rows; r += RW) {
      let row = window_row(c0, r, oy, ox);
      for (var x = 0u; x < u.ww; x++) { sum += src[row + x]; }
    }
    mean = reduce_wg(sum, lid) / n;
    var sq = 0.0;
    for (var r = lid; r < rows; r += RW) {
      let row = window_row(c0, r, oy, ox);
      for (var x = 0u; x < u.ww; x++) { let d = src[row + x] - mean; sq += d * d; }
    }
    variance = reduce_wg(sq, lid) / n;
  }
  if (lid == 0u) {
    dst[2u * seg] = mean;
    dst[2u * seg + 1u] = inverseSqrt(variance + u.eps);
  }
}

// Group norm of a [B, C, H, W] map with statistics that vary smoothly over it: the statistics
// of each window (mean and 1/sqrt(var + eps) per window and group, [B * nw * G, 2], windows in
// gather's order: what stats writes) interpolated bilinearly between the windows' centres, clamped at the
// outermost centres; then the affine (has_affine) and SiLU (act 1).
@group(0) @binding(1) var<storage, read> xn: array<f32>;
@group(0) @binding(2) var<storage, read> wstats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma_n: array<f32>;
@group(0) @binding(4) var<storage, read> beta_n: array<f32>;
@group(0) @binding(5) var<storage, read_write> yn: array<f32>;

// (mean, 1/std) of window column k interpolated between window rows s0 and s1 (their first
// window's segment; a column further is G segments on) with the second's weight t
fn column_stats(s0: u32, s1: u32, k: u32, t: f32) -> vec2f {
  let a = 2u * (s0 + k * u.G);
  let b = 2u * (s1 + k * u.G);
  return mix(vec2f(wstats[a], wstats[a + 1u]), vec2f(wstats[b], wstats[b + 1u]), t);
}

// one invocation per map row: the row's two window rows once, then along the row the two window
// columns whose centres enclose x, advanced as x passes them (no division per pixel: on lavapipe
// an integer division is a scalar loop over the lanes)
@compute @workgroup_size(WG)
fn norm_smooth(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_index(wid, nwg) * WG + lid; // (b * C + c) * H + y
  if (r >= u.B * u.C * u.H) { return; }
  let y = r % u.H;
  let bc = r / u.H;
  let c = bc % u.C;
  let b = bc / u.C;
  let g = c / (u.C / u.G);
  let ty = window_between(y, u.wh, u.H, u.nwy);
  let nw = u.nwy * u.nwx;
  let s0 = (b * nw + u32(ty.x) * u.nwx) * u.G + g;
  let s1 = (b * nw + u32(ty.y) * u.nwx) * u.G + g;
  var ga = 1.0;
  var be = 0.0;
  if (u.has_affine == 1u) { ga = gamma_n[c]; be = beta_n[c]; }
  let cx = 0.5 * f32(u.ww - 1u);
  let last = u.nwx - 1u;
  var k = 0u; // the left window column
  var left = column_stats(s0, s1, 0u, ty.z);
  var right = column_stats(s0, s1, min(1u, last), ty.z);
  var c0 = f32(window_origin(0u, u.ww, u.W)) + cx;
  var c1 = f32(window_origin(min(1u, last), u.ww, u.W)) + cx;
  for (var x = 0u; x < u.W; x++) {
    let fx = f32(x);
    while (k + 1u < last && fx > c1) {
      k++;
      left = right;
      c0 = c1;
      right = column_stats(s0, s1, k + 1u, ty.z);
      c1 = f32(window_origin(k + 1u, u.ww, u.W)) + cx;
    }
    let st = mix(left, right, clamp((fx - c0) / max(c1 - c0, 1.0), 0.0, 1.0));
    let i = r * u.W + x;
    var n = (xn[i] - st.x) * st.y * ga + be;
    if (u.act == 1u) { n = n / (1.0 + exp(-n)); }
    yn[i] = n;
  }
}
