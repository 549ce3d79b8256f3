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
struct Params { B: u32, C: u32, H: u32, W: u32, wh: u32, ww: u32, nwy: u32, nwx: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn origin(i: u32, w: u32, n: u32) -> u32 { return min(i * w, n - w); }

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
  let y = origin(w / u.nwx, u.wh, u.H) + py;
  let s0 = ((b * u.C + c) * u.H + y) * u.W + origin(w % u.nwx, u.ww, u.W);
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
  let ox = origin(ix, u.ww, u.W);
  let x0 = ix * u.ww;
  let x1 = select(x0 + u.ww, u.W, ix == u.nwx - 1u);
  let s0 = ((b * u.nwy * u.nwx + iy * u.nwx + ix) * u.C + c) * u.wh * u.ww + (y - origin(iy, u.wh, u.H)) * u.ww - ox;
  for (var x = x0; x < x1; x++) { dst[row * u.W + x] = src[s0 + x]; }
}
