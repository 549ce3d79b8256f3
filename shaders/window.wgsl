// Square windows of a token map, for attention within windows: a [B, C, H, W] map (tokens
// along H x W, row-major) <-> [B * nwy * nwx, C, wh * ww], window (iy, ix) covering rows
// oy .. oy + wh - 1 and columns ox .. ox + ww - 1 with oy = min(iy * wh, H - wh) (likewise ox):
// the last window of a row or column is moved back inside the map, so every window is whole
// and the last two overlap where wh does not divide H. gather copies every window's tokens;
// scatter writes each token once, from the window that owns it (iy = min(y / wh, nwy - 1)).
override WG: u32 = 64u;
struct Params { B: u32, C: u32, H: u32, W: u32, wh: u32, ww: u32, nwy: u32, nwx: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn origin(i: u32, w: u32, n: u32) -> u32 { return min(i * w, n - w); }

// one invocation per element of the windows: dst[(b * nw + w) * C + c][p]
@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  let area = u.wh * u.ww;
  let nw = u.nwy * u.nwx;
  if (i >= u.B * nw * u.C * area) { return; }
  let p = i % area;
  let c = (i / area) % u.C;
  let bw = i / (area * u.C);
  let w = bw % nw;
  let b = bw / nw;
  let y = origin(w / u.nwx, u.wh, u.H) + p / u.ww;
  let x = origin(w % u.nwx, u.ww, u.W) + p % u.ww;
  dst[i] = src[((b * u.C + c) * u.H + y) * u.W + x];
}

// one invocation per element of the map: dst[b][c][y * W + x] from the window that owns (y, x)
@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.B * u.C * u.H * u.W) { return; }
  let x = i % u.W;
  let y = (i / u.W) % u.H;
  let c = (i / (u.W * u.H)) % u.C;
  let b = i / (u.W * u.H * u.C);
  let iy = min(y / u.wh, u.nwy - 1u);
  let ix = min(x / u.ww, u.nwx - 1u);
  let p = (y - origin(iy, u.wh, u.H)) * u.ww + (x - origin(ix, u.ww, u.W));
  dst[i] = src[((b * u.nwy * u.nwx + iy * u.nwx + ix) * u.C + c) * u.wh * u.ww + p];
}
