/**
 * One-step (or k-step) fusion with a trained velocity field: luminance planes are padded by
 * reflection to the U-Net's size multiple, integrated from the flow source, cropped back and
 * recombined with the sources' chroma. Images larger than `maxTilePixels` are fused in
 * overlapping tiles blended with linear ramps, so any size fits the device's limits.
 *
 * Tiling changes the result near seams, so by default ('portable') the tile size is the one
 * that WebGPU's baseline limit (128 MiB per binding, which every device offers) allows: the
 * same pair gives the same pixels on every device, Node or browser, software or NVIDIA.
 * `tiles: 'device'` uses the device's own limit instead (fewer, larger tiles: faster on big
 * GPUs, but results then differ slightly between devices).
 */
import { tensor } from '../../autograd/create.js';
import { withNormWindow } from '../../autograd/ops.js';
import { noGrad, tidy } from '../../autograd/tensor.js';
import { splitColour } from '../colour.js';
import { assertSameSize, type Image } from '../image.js';
import type { VelocityNet } from './model.js';
import { cropWindow, reflectWindow } from '../pad.js';
import { flowSource, type Coupling } from './path.js';
import { integrate, type Solver } from './sampler.js';
import { ddimSample } from '../diffusion/ddim.js';
import type { Objective } from './model-file.js';
import { InputError } from '../../util/errors.js';
import { knob } from '../../kernels/program.js';

/** How fusion picks its tile size (FuseOptions.tiles, `fusionfm fuse --tiles`; 'auto' the default: see TASK_ONE_PIECE). */
export const TILE_MODES = ['auto', 'portable', 'device', 'whole'] as const;
export type TileMode = (typeof TILE_MODES)[number];

export interface FuseOptions {
  steps?: number;
  solver?: Solver;
  coupling?: Coupling;
  /** tiles are used above this many pixels of net input (default: tileSide squared) */
  maxTilePixels?: number;
  /**
   * how the default maxTilePixels is chosen (see tileSide): 'portable', 'device' or 'whole';
   * 'auto' (the default) is 'whole' for the tasks of TASK_ONE_PIECE where the image fits one
   * piece and no maxTilePixels is given, else 'portable'
   */
  tiles?: TileMode;
  /** 'ddpm' samples a diffusion-baseline model with DDIM in `steps` steps from seeded noise */
  objective?: Objective;
  /** noise seed of DDIM sampling and of the gaussian coupling (default 0) */
  seed?: number;
  /** tile overlap in pixels (default 32) */
  overlap?: number;
  /** pixels of reflected context around the image (or tile) so that the net's zero-padded border lies outside it (default 8) */
  margin?: number;
  /** the task fused for: a task-conditioned model needs it (and refuses one it was not trained on); others ignore it */
  task?: string;
  /**
   * self-attention within square windows of this many tokens a side of the net's lowest level
   * (the training crop's extent: 16 for 64 px crops and three levels) instead of over the whole
   * tile or image (null); its cost then grows with the area, not the area squared. Default:
   * ATTENTION_WINDOW, in one piece and in a flow model's tiles (null in the DDPM baseline's tiles)
   */
  attentionWindow?: number | null;
  /**
   * group norm statistics per square window of this many net-input pixels (scaled with each
   * level), interpolated between the windows' centres, instead of over the whole tile or image
   * (null). Default: in one piece the task's window (TASK_ONE_PIECE; WHOLE_NORM_WINDOW for the
   * other tasks), null in the tiles
   */
  normWindow?: number | null;
}

/**
 * The net's convolutions pad with zeros, and a net sees that dark frame at every border of its
 * input: trained on crops, it answers with a bright one-pixel line along the image's edges
 * (measured on the bundled model: the outermost row 20 grey levels above the next). So the
 * sources are extended by reflection on every side and the net's own border falls outside the
 * image; `margin` pixels of context each side (rounded up to the net's size multiple overall).
 */
async function fuseLuma(net: VelocityNet, a: Float32Array, b: Float32Array, w: number, h: number, o: Resolved): Promise<Float32Array> {
  return (await fuseLumaBatch(net, [a], [b], w, h, o))[0]!;
}

/**
 * fuseLuma of n planes of one size (tiles) in one net evaluation per step: the planes are the
 * batch entries, and every op of the net works per entry, so each plane's result is its own
 * evaluation's within float rounding.
 */
async function fuseLumaBatch(net: VelocityNet, as: Float32Array[], bs: Float32Array[], w: number, h: number, o: Resolved): Promise<Float32Array[]> {
  const pad = o.margin;
  const [pw, ph] = netInputSize(net, w, h, o);
  const n = as.length;
  const shape = [n, 1, ph, pw];
  const stacked = (planes: Float32Array[]) => {
    const x = new Float32Array(n * pw * ph);
    planes.forEach((p, i) => x.set(reflectWindow(p, w, h, -pad, -pad, pw, ph), i * pw * ph));
    return tensor(x, shape);
  };
  const out = noGrad(() =>
    tidy(() => withNormWindow(o.normWindow ? o.normWindow / pw : null, () => net.withAttentionWindow(o.attentionWindow, () => {
      const xA = stacked(as);
      const xB = stacked(bs);
      if (o.objective === 'ddpm') return ddimSample(net, xA, xB, o.steps, o.seed, o.task);
      return integrate(net, flowSource(o.coupling, xA, xB, o.seed, { sharedNoise: true }), xA, xB, o.steps, o.solver, o.task);
    }))),
  );
  const full = await out.data();
  out.dispose();
  return Array.from({ length: n }, (_, i) => cropWindow(full.subarray(i * pw * ph, (i + 1) * pw * ph), pw, pad, pad, w, h));
}

/**
 * Tiles per net evaluation (TILE_BATCH, knob FFM_TILE_BATCH), at most as many as keep the
 * batch's net input within one piece's pixels ('whole'), so that its activations fit where one
 * piece's do. Where the flow source or the DDPM sampler draws noise, every tile of a batch gets
 * the draw a lone tile gets (sharedNoise), so the batches change no pixel there either.
 */
function tileBatch(net: VelocityNet, tilePixels: number): number {
  const k = knob('FFM_TILE_BATCH');
  const want = k !== undefined && k >= 1 ? Math.floor(k) : TILE_BATCH;
  const side = tileSide(net, 'whole');
  return Math.max(1, Math.min(want, Math.floor((side * side) / tilePixels)));
}

/** Tiles evaluated together by default (tileBatch). */
export const TILE_BATCH = 8;

/**
 * The net input for a w x h image or tile with its margin: padded to a multiple of tileAlign
 * where that still fits maxTilePixels (the extra context is reflected, right and bottom), else
 * to the net's size multiple. Rows of whole vec4s at every level run the Winograd transforms'
 * fast form; an image that fits one piece at the size multiple stays one piece.
 */
function netInputSize(net: VelocityNet, w: number, h: number, o: Resolved): [number, number] {
  const m = net.sizeMultiple;
  const a = tileAlign(m);
  const [aw, ah] = [withMargin(w, o.margin, a), withMargin(h, o.margin, a)];
  return aw * ah <= o.maxTilePixels ? [aw, ah] : [withMargin(w, o.margin, m), withMargin(h, o.margin, m)];
}

/** n pixels with `margin` of context each side, rounded up to a multiple of k. */
function withMargin(n: number, margin: number, k: number): number {
  return Math.ceil((n + 2 * margin) / k) * k;
}

/** Whether a w x h plane with its margin is one piece for the net within maxTilePixels of net input. */
function fitsOnePiece(net: VelocityNet, w: number, h: number, margin: number, maxTilePixels: number): boolean {
  const m = net.sizeMultiple;
  return withMargin(w, margin, m) * withMargin(h, margin, m) <= maxTilePixels;
}

/** Start positions of tiles of length `tile` covering n with at least `overlap` shared. */
function tileStarts(n: number, tile: number, overlap: number): number[] {
  if (n <= tile) return [0];
  overlap = Math.min(overlap, Math.floor(tile / 2)); // a tile must advance
  const count = Math.ceil((n - overlap) / (tile - overlap));
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - tile)) / (count - 1)));
}

/**
 * The side of the largest square the net evaluates in one piece: 'portable' and 'device' keep
 * the attention window of the tiles (half the binding's worth of scores: WebGPU's baseline or
 * the device's own limit); 'whole' is as large as the activations allow under the baseline
 * limit (one piece up to about 836 x 836 for the default net), with attention over all of it.
 */
export function tileSide(net: VelocityNet, tiles: TileMode): number {
  const deviceBytes = net.unet.convIn.weight.rt.maxBindingBytes;
  const portable = Math.min(deviceBytes, WEBGPU_BASELINE_BINDING_BYTES);
  if (tiles === 'whole') return net.maxSideByMemory(portable);
  return net.maxSide((tiles === 'device' ? deviceBytes : portable) / 2);
}

/** maxStorageBufferBindingSize that the WebGPU spec guarantees on every device */
export const WEBGPU_BASELINE_BINDING_BYTES = 134_217_728;

/** FuseOptions with every default filled in (the task stays optional: unconditioned nets take none). */
type Resolved = Required<Omit<FuseOptions, 'task'>> & Pick<FuseOptions, 'task'>;

/** A task-conditioned net's task, checked before any work. */
function checkTask(net: VelocityNet, opts: FuseOptions): void {
  const tasks = net.conditionTasks;
  if (tasks.length && (opts.task === undefined || !tasks.includes(opts.task))) {
    throw new InputError(`the model is task-conditioned on ${tasks.join(', ')}: ${opts.task === undefined ? 'name the task to fuse for' : `not on '${opts.task}'`}`);
  }
}

/**
 * Net-input tile sides of the default ('portable') tiles per task, where they are smaller than
 * the attention window's: multi-exposure fuses in tiles of 128 px, twice the 64 px crops the
 * models train on (a net fit on its crops loses the fit on tiles of more than about twice
 * their side, bench/results/fit-probe/). Chosen on held-out training pairs, never test pairs
 * (2026-12-06, bench/results/sequence-vs-joint/val-400-single-choice-tiles-seed{1,2}/): two
 * 400-step models went on MEFB's held-out pairs from 0.898 and 0.867 (default tiles, 176 px) to
 * 0.906 and 0.884; the other tasks moved by -0.012 .. +0.004 (infrared-visible -0.002 and
 * -0.005; multi-focus +0.004 and +0.002 with the soft head, but +0.002 and -0.002 fused by the
 * sharpened map it uses, val-400-single-choice-tiles-sharpened-seed*), so they keep the default.
 * About 1.3x the pixels evaluated. Knob FFM_TASK_TILES=0 turns it off.
 */
export const TASK_TILE_SIDE: Readonly<Record<string, number>> = { mef: 128 };

/**
 * The attention window of fusion, in tokens of the net's lowest level: the 16 x 16 tokens of the
 * 64 px crops the nets train on. Over a whole 640x480 image attention is 94 GFLOP, about 3 s of a
 * 5-6 s fusion on lavapipe; in windows 1.3 GFLOP; inside a 176 px tile 6x fewer FLOPs than over
 * the tile. Chosen on held-out training pairs (bench/results/window-attention/): in one piece the
 * mean composite 0.808 either way, no task moving by more than 0.001 (session 19); inside the
 * tiles, by a rule written before the second model was scored, no task moving by more than
 * 0.001 on either of two models (session 20; the portable tiles of a 640x480 pair 5.6 against
 * 6.5 s). Knob FFM_ATTN_WINDOW=0 attends over the whole map.
 */
export const ATTENTION_WINDOW = 16;

/**
 * The group norm window of one-piece fusion, in net-input pixels: the 64 px training crop. Over a
 * whole image the statistics mix regions a crop never held together (an exposure pair's dark and
 * bright halves): on held-out pairs one piece scored 0.808 with whole-image statistics and 0.830
 * with these (multi-exposure 0.796 -> 0.875; medical fusion 0.884 -> 0.872), the tiles 0.836
 * (bench/results/window-attention/). Medical fusion keeps whole-map statistics in one piece
 * (TASK_ONE_PIECE).
 */
export const WHOLE_NORM_WINDOW = 64;

/** How a task fuses in one piece: the group norm window of TASK_ONE_PIECE's entry (null: whole-map statistics). */
export interface OnePiece {
  normWindow: number | null;
}

/**
 * The tasks a model fuses in one piece by default (tiles: 'auto'), where the image fits one
 * piece, with attention windows (ATTENTION_WINDOW) and each task's group norm window; one piece
 * of such a task takes that window when asked for explicitly (tiles: 'whole') too. Chosen on
 * held-out training pairs by rules written before the second model was scored
 * (bench/results/window-attention/README.md, "One piece per task" and "Medical fusion in one
 * piece"): a task fuses in one piece where, on both 400-step validation models, one piece scored
 * no more than 0.005 below the default tiles (one piece / tiles, seeds 1 and 2):
 * - infrared-visible, norm windows of WHOLE_NORM_WINDOW: 0.714 / 0.714 and 0.717 / 0.721; a
 *   640x480 pair about 2x faster than in the tiles on lavapipe (2.0 s against 4.4 s);
 * - medical fusion, whole-map statistics: 0.884 / 0.884 and 0.887 / 0.890 (with 64 px norm
 *   windows 0.872 and 0.876: its 256 px pairs are only four windows across); a 256 px pair is
 *   one piece instead of four 160 px tiles, 2.6x fewer pixels;
 * - multi-focus, norm windows of 176 px, the default net's tile (its statistics' extent in the
 *   tiles): 0.854 / 0.856 and 0.811 / 0.812 (with 64 px windows it missed on seed 2, 0.805).
 * Multi-exposure missed it with windows of 64 px (0.875 / 0.888, 0.864 / 0.881) and of its
 * tiles' 128 px (0.872 / 0.888, 0.872 / 0.881). Flow models only: the DDPM baseline was not
 * measured so. Knob FFM_TASK_ONE_PIECE=0 turns 'auto''s one piece off.
 */
export const TASK_ONE_PIECE: Readonly<Record<string, OnePiece>> = { ivf: { normWindow: WHOLE_NORM_WINDOW }, mif: { normWindow: null }, mff: { normWindow: 176 } };

/** The group norm window of one-piece fusion for this task: its TASK_ONE_PIECE entry's, else WHOLE_NORM_WINDOW. */
function onePieceNormWindow(task: string | undefined): number | null {
  return task !== undefined && Object.hasOwn(TASK_ONE_PIECE, task) ? TASK_ONE_PIECE[task]!.normWindow : WHOLE_NORM_WINDOW;
}

/** The tile mode that 'auto' stands for with this task, objective and image size (others as given). */
function resolveMode(net: VelocityNet, w: number, h: number, opts: FuseOptions): Exclude<TileMode, 'auto'> {
  const mode = opts.tiles ?? 'auto';
  if (mode !== 'auto') return mode;
  // an explicit maxTilePixels asks for tiles of that size
  const onePiece = opts.task !== undefined && Object.hasOwn(TASK_ONE_PIECE, opts.task) && (opts.objective ?? 'flow') === 'flow' && opts.maxTilePixels === undefined && knob('FFM_TASK_ONE_PIECE') !== 0;
  if (!onePiece) return 'portable';
  const side = tileSide(net, 'whole');
  return fitsOnePiece(net, w, h, opts.margin ?? DEFAULT_MARGIN, side * side) ? 'whole' : 'portable';
}

const DEFAULT_MARGIN = 8;

/** The options with their defaults for a w x h plane; maxTilePixels from tileSide (and TASK_TILE_SIDE for the portable tiles). */
function withDefaults(net: VelocityNet, opts: FuseOptions, w: number, h: number): Resolved {
  const mode = resolveMode(net, w, h, opts);
  let side = tileSide(net, mode);
  const taskSide = mode === 'portable' && opts.task !== undefined && knob('FFM_TASK_TILES') !== 0 && Object.hasOwn(TASK_TILE_SIDE, opts.task) ? TASK_TILE_SIDE[opts.task]! : undefined;
  if (taskSide !== undefined) side = Math.min(side, taskSide);
  if (opts.attentionWindow !== undefined && opts.attentionWindow !== null && !(Number.isInteger(opts.attentionWindow) && opts.attentionWindow > 0)) {
    throw new InputError(`attentionWindow must be a positive whole number of tokens or null, got ${opts.attentionWindow}`);
  }
  if (opts.normWindow !== undefined && opts.normWindow !== null && !(Number.isInteger(opts.normWindow) && opts.normWindow > 0)) {
    throw new InputError(`normWindow must be a positive whole number of pixels or null, got ${opts.normWindow}`);
  }
  // the DDPM baseline keeps attention over the whole tile there: windows inside the tiles were
  // measured on flow models only
  const windowed = mode === 'whole' || (opts.objective ?? 'flow') === 'flow';
  const attentionWindow = opts.attentionWindow !== undefined ? opts.attentionWindow : windowed ? ATTENTION_WINDOW : null;
  const normWindow = opts.normWindow !== undefined ? opts.normWindow : mode === 'whole' ? onePieceNormWindow(opts.task) : null;
  return { steps: 1, solver: 'euler', coupling: 'sum', maxTilePixels: side * side, overlap: 32, margin: DEFAULT_MARGIN, objective: 'flow', seed: 0, ...opts, tiles: mode, attentionWindow, normWindow };
}

/**
 * The multiple a tile's net input side is rounded down to: 4 x the size multiple, so that the
 * lowest level's rows are whole vec4s too (the default tile: 176 px of input, levels 176 / 88 /
 * 44, against 180 / 90 / 45 before, which missed the Winograd row transforms at 90 and 45 and
 * ran the per-float ones; the tile count of a 640x480 image is 20 either way). Knob
 * FFM_TILE_ALIGN=<px> sets another (e.g. the size multiple itself: the tiles before 2026-12-05).
 */
function tileAlign(mult: number): number {
  const k = knob('FFM_TILE_ALIGN');
  return k !== undefined && k > 0 ? Math.max(mult, Math.round(k / mult) * mult) : 4 * mult;
}

/** How a w x h plane is cut: null for one piece, else the tile size and the tiles' start positions. */
function cut(net: VelocityNet, w: number, h: number, o: Resolved): { tw: number; th: number; xs: number[]; ys: number[] } | null {
  // the limit is on what the net sees: the image (or tile) with its margin
  if (fitsOnePiece(net, w, h, o.margin, o.maxTilePixels)) return null;
  const mult = net.sizeMultiple;
  // the net input of a tile (inner + 2 margin) a multiple of tileAlign where that leaves a tile of
  // at least 4 size multiples, so that every level's rows split into aligned vec4s, the Winograd
  // transforms' fast form (W % 4 == 0); else as large as the size multiple allows
  const limit = Math.sqrt(o.maxTilePixels);
  const align = tileAlign(mult);
  const aligned = Math.floor(limit / align) * align - 2 * o.margin;
  const inner = aligned >= mult * 4 ? aligned : Math.max(mult * 4, Math.floor((limit - 2 * o.margin) / mult) * mult);
  const tw = Math.min(inner, w);
  const th = Math.min(inner, h);
  return { tw, th, xs: tileStarts(w, tw, o.overlap), ys: tileStarts(h, th, o.overlap) };
}

/**
 * How fuseLuminance will cut a w x h plane: the tile side (inner, without the margin) and the tile
 * count (1: one piece); opts.task matters where TASK_TILE_SIDE names it.
 */
export function tilePlan(net: VelocityNet, w: number, h: number, opts: FuseOptions = {}): { side: number; tiles: number } {
  const c = cut(net, w, h, withDefaults(net, opts, w, h));
  return c ? { side: Math.max(c.tw, c.th), tiles: c.xs.length * c.ys.length } : { side: Math.max(w, h), tiles: 1 };
}

export async function fuseLuminance(net: VelocityNet, a: Float32Array, b: Float32Array, w: number, h: number, opts: FuseOptions = {}): Promise<Float32Array> {
  checkTask(net, opts);
  const o = withDefaults(net, opts, w, h);
  const c = cut(net, w, h, o);
  if (!c) return fuseLuma(net, a, b, w, h, o);
  const { tw, th } = c;
  const acc = new Float32Array(w * h);
  const wsum = new Float32Array(w * h);
  const ramp = (i: number, n: number) => Math.min(1, (i + 1) / (o.overlap + 1), (n - i) / (o.overlap + 1));
  const starts = c.ys.flatMap((y0) => c.xs.map((x0) => [x0, y0] as const));
  const [pw, ph] = netInputSize(net, tw, th, o);
  const batch = tileBatch(net, pw * ph);
  for (let i = 0; i < starts.length; i += batch) {
    const group = starts.slice(i, i + batch);
    const fused = await fuseLumaBatch(net, group.map(([x0, y0]) => reflectWindow(a, w, h, x0, y0, tw, th)), group.map(([x0, y0]) => reflectWindow(b, w, h, x0, y0, tw, th)), tw, th, o);
    group.forEach(([x0, y0], g) => {
      const f = fused[g]!;
      for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
        const wt = ramp(x, tw) * ramp(y, th);
        acc[(y0 + y) * w + x0 + x]! += wt * f[y * tw + x]!;
        wsum[(y0 + y) * w + x0 + x]! += wt;
      }
    });
  }
  return acc.map((v, i) => v / wsum[i]!);
}

/** Fuses two images (any size, grey or colour) with the model; colour in, colour out. */
export async function fuseImages(net: VelocityNet, a: Image, b: Image, opts: FuseOptions = {}): Promise<Image> {
  assertSameSize('fuse', a, b);
  // each source converted to YCbCr once: its Y feeds the net, its chroma the output
  const s = splitColour(a, b, `fused(${a.source ?? 'A'}, ${b.source ?? 'B'})`);
  return s.compose(await fuseLuminance(net, s.ya, s.yb, a.width, a.height, opts));
}
