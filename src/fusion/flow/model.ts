/**
 * The velocity field v_theta(t, x_t; xA, xB): a U-Net on the concatenation [x_t, xA, xB] of
 * luminance planes with a sinusoidal time embedding in every ResBlock and self-attention at
 * the lowest resolution.
 *
 * Two output heads (VelocityConfig.head):
 * - 'velocity' (absent in older files): the U-Net's one output plane is the velocity.
 * - 'blend': the U-Net outputs a weight logit l and a residual r, and predicts the fused image
 *   x1 = s xA + (1 - s) xB + r with s = sigmoid(l); the velocity is x1 - x0, x0 the flow's
 *   source. The flow is the same straight path from x0; only what the net has to learn
 *   changes: most of any fusion is a per-pixel choice between the sources, which a weight map
 *   expresses at once, and the residual adds what no choice gives (contrast, detail). At
 *   initialisation (small outputs) it predicts the average of the sources, not x0.
 * - 'blend2': the blend with two weight maps, one for the sources' base (b: a 3x3 binomial blur twice)
 *   and one for their detail (x - b): x1 = xB + s_lo (bA - bB) + s_hi ((xA - bA) - (xB - bB)) + r.
 *   A pyramid fuser (the Laplacian pyramid that labels multi-exposure) weighs coarse and fine
 *   bands apart, sharp detail from one source over a smooth blend of both; one map cannot.
 *   With s_lo = s_hi it is the blend head.
 * - 'pyramid': the blend done band by band, as the Laplacian pyramid fuser that labels
 *   multi-exposure does: the U-Net outputs PYRAMID_LEVELS weight logits and a residual, and
 *   x1 = xB + collapse_l(s_l L_l(xA - xB)) + r, L_l the Laplacian pyramid of the sources'
 *   difference (2x2 average pooling down, bilinear up; the last level its base) and s_l the
 *   sigmoid of logit plane l pooled to level l. The pyramid is linear, so this is the blend of
 *   the sources' own pyramids, each band with its own map: a sharp choice of fine detail over a
 *   smooth blend of coarse bands, without the seams a sharp map in pixels leaves. With every
 *   s_l = s it is the blend head. Measured (bench/results/study-mef-pyramid/): level with the
 *   blend head on multi-exposure alone, below it on held-out pairs of the four tasks; kept as an
 *   option, not the recipe's.
 *
 * sourceGate (either head; absent or 0 in older files: no gate) multiplies the velocity by
 * min(1, (xA + xB) / sourceGate): where both sources are black the flow does not move, and as
 * it starts at the sources (sum or average coupling) the fused image stays black there. Without
 * it the output there is whatever the U-Net's GroupNorm statistics of the view make it: 4-23
 * grey levels for the blend head at 800 steps per task (bench/results/default-model-blend800/),
 * 3.4 for the velocity head at 800 (a positive offset; the clamp at 0 hides a negative one).
 *
 * tasks (absent in older files: no task input) makes the net task-conditioned: one learned
 * embedding row per named task, added to the time embedding, so one all-in-one model can follow
 * a different rule per task (multi-focus picks the sharp source where multi-exposure blends the
 * two, from inputs that look alike). The rows start with unit variance, as torch.nn.Embedding
 * does: the time embedding passes through GroupNorm in every ResBlock, and a row has to be of
 * its size to move the features (rows started at zero had not separated two tasks after 150
 * steps of the conditioning test; unit rows did in 60). Every evaluation names its task (per
 * sample in training batches).
 */
import { tensor } from '../../autograd/create.js';
import { add, affine, avgPool2x, clamp, concat, conv2d, matmul, mul, sigmoid, slice, sub, upsample2x } from '../../autograd/ops.js';
import { isGradEnabled, type Tensor } from '../../autograd/tensor.js';
import { UNet, type UNetConfig } from '../../nn/unet.js';
import { Module, uniformInit, type Parameter } from '../../nn/module.js';
import { fmtShape, InputError, ShapeError } from '../../util/errors.js';
import { knob } from '../../kernels/program.js';

export const VELOCITY_HEADS = ['velocity', 'blend', 'blend2', 'pyramid'] as const;
export type VelocityHead = (typeof VELOCITY_HEADS)[number];

/** Whether a head predicts the fused image as a weighted choice between the sources (blend, blend2, pyramid). */
export function isBlendHead(head: VelocityHead | undefined): boolean {
  return head === 'blend' || head === 'blend2' || head === 'pyramid';
}

/** The pyramid head's levels, its base included: the finest three bands at 1, 1/2, 1/4 and the base at 1/8. */
export const PYRAMID_LEVELS = 4;

/** The U-Net's output planes for a head: the velocity; a weight logit and the residual; two logits, or one per pyramid level, and the residual. */
const HEAD_PLANES: Record<VelocityHead, number> = { velocity: 1, blend: 2, blend2: 3, pyramid: PYRAMID_LEVELS + 1 };

/** 3x3 binomial blur ([1 2 1] / 4 each way) as a [1, 1, 3, 3] conv weight; twice, blend2's base of a source. */
const BINOMIAL3 = Float32Array.from([1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16));

/** blend2's base of a source: the 3x3 binomial blur twice (the 5x5 binomial inside the image; zero padding each time). */
function sourceBase(x: Tensor): Tensor {
  const w = tensor(BINOMIAL3, [1, 1, 3, 3]);
  return conv2d(conv2d(x, w, null, { pad: 1 }), w, null, { pad: 1 });
}

/**
 * The pyramid head's blended difference: collapse_l(s_l L_l(d)) over the Laplacian pyramid of d
 * (Gaussian levels by 2x2 average pooling, bands g_l - up(g_{l+1}) with bilinear up, the last
 * level the base), weightAt(l) the weight map at level l's size. Any up and down pair collapses
 * exactly: with every weight 1 it returns d.
 */
function pyramidBlend(d: Tensor, weightAt: (level: number) => Tensor): Tensor {
  const gauss = [d];
  for (let l = 1; l < PYRAMID_LEVELS; l++) gauss.push(avgPool2x(gauss[l - 1]!));
  let cur = mul(weightAt(PYRAMID_LEVELS - 1), gauss[PYRAMID_LEVELS - 1]!);
  for (let l = PYRAMID_LEVELS - 2; l >= 0; l--) {
    const band = sub(gauss[l]!, upsample2x(gauss[l + 1]!, 'bilinear'));
    cur = add(mul(weightAt(l), band), upsample2x(cur, 'bilinear'));
  }
  return cur;
}

/** x pooled (2x2 average) `times` times: a full-size weight logit brought to pyramid level `times`. */
function poolTimes(x: Tensor, times: number): Tensor {
  for (let i = 0; i < times; i++) x = avgPool2x(x);
  return x;
}

/** How a blend head fuses at inference: its weight logit times sharpen, its residual times residual. */
export interface ChoiceRule {
  sharpen: number;
  residual: number;
}

/** The hard choice a blend head's weight logit makes (logit x10, no residual): what the loss's choice term trains (inference sharpens by task: INFERENCE_CHOICE, CHOICE_TRAINED_INFERENCE). */
export const HARD_CHOICE: ChoiceRule = { sharpen: 10, residual: 0 };

/**
 * Tasks a blend-head model fuses at inference by a near-hard per-pixel choice between the
 * sources: the weight logit sharpened and the residual dropped, so the output copies source
 * pixels. Chosen on held-out training pairs, never test pairs (2026-12-05,
 * bench/results/inference-choice/): on VIFB's two held-out pairs the choice (logit x10) raised the
 * task composite of two 400-step models from 0.681 and 0.666 to 0.723 and 0.718 (MI 2.70 -> 3.17),
 * where the labels are a per-pixel maximum. It lowered multi-focus (0.794 -> 0.682, 0.781 -> 0.525)
 * and medical fusion (MRI-PET 1.043 -> 0.979, MRI-CT 0.932 -> 0.903), so those keep the soft head.
 * Since session 22 the logit x100, by a rule written before scoring: on the
 * held-out pairs of the two validation models of bench/results/window-attention/ it rose on both,
 * 0.714 -> 0.716 and 0.717 -> 0.720 (MI 3.18 -> 3.25, 3.12 -> 3.22; multi-focus, fused by its
 * sharpened map with the residual, fell at x100: 0.854 -> 0.820, 0.811 -> 0.760; see CHOICE_TRAINED_INFERENCE).
 */
export const INFERENCE_CHOICE: Readonly<Record<string, ChoiceRule>> = { ivf: { sharpen: 100, residual: 0 } };

/**
 * Tasks a blend-head model whose weight map was trained with the choice term for them
 * (VelocityConfig.choiceTrained) fuses by its sharpened map, the residual kept. Chosen on held-out
 * training pairs, never test pairs (2026-12-05, bench/results/sequence-vs-joint/): two 400-step
 * models trained with the choice term on infrared-visible and multi-focus went on Lytro's pairs
 * from 0.803 and 0.776 (soft head) to 0.864 and 0.829 (GFF: 0.885); the same sharpening on three
 * models trained without the term moved them by +0.030, -0.046 and -0.024. The choice alone (no
 * residual) gave 0.794 and 0.685. Infrared-visible keeps INFERENCE_CHOICE's rule (0.721 and 0.710
 * with it). Since session 22 the map x5 instead of x10, by a rule written before scoring (a value
 * that rises by more than 0.001 on both validation models of bench/results/window-attention/):
 * Lytro's held-out pairs 0.854 -> 0.856 and 0.811 -> 0.819 at x5; x20 (0.844, 0.792) and x100
 * (0.820, 0.760) fell (bench/results/inference-choice/).
 */
export const CHOICE_TRAINED_INFERENCE: Readonly<Record<string, ChoiceRule>> = { mff: { sharpen: 5, residual: 1 } };

export function checkHead(h: string, where: string): VelocityHead {
  if (!(VELOCITY_HEADS as readonly string[]).includes(h)) throw new InputError(`${where}: unknown head '${h}'; expected ${VELOCITY_HEADS.join(' or ')}`);
  return h as VelocityHead;
}

/** The U-Net settings a velocity field may choose (its inputs, output and time input are fixed). */
export type VelocityConfig = Omit<UNetConfig, 'inChannels' | 'outChannels' | 'upsample' | 'timeDim'> & {
  timeDim: number;
  head?: VelocityHead;
  /** the source sum (luminance in [0, 1]) below which the velocity fades out linearly; 0 or absent = no gate */
  sourceGate?: number;
  /** the tasks the net is conditioned on, one embedding row each, in this order; absent = no task input */
  tasks?: string[];
  /**
   * the tasks whose blend weight map was trained with the loss's choice term (--choice-loss),
   * which CHOICE_TRAINED_INFERENCE fuses by; absent = none
   */
  choiceTrained?: string[];
};

/** A task list from a configuration or file, checked: distinct non-empty names. */
export function checkConditionTasks(tasks: unknown, where: string): string[] {
  if (!Array.isArray(tasks) || !tasks.length || tasks.some((t) => typeof t !== 'string' || !t) || new Set(tasks).size !== tasks.length) {
    throw new InputError(`${where}: the conditioning tasks must be a list of distinct task names, got ${JSON.stringify(tasks)}`);
  }
  return tasks as string[];
}

/** A source gate from user input (grey levels of 255), checked. */
export function checkSourceGate(levels: number, where: string): number {
  if (!Number.isFinite(levels) || levels < 0 || levels > 255) throw new InputError(`${where}: the source gate must be between 0 and 255 grey levels, got ${levels}`);
  return levels / 255;
}

/**
 * The one rule for where a source gate may apply, used by the CLI, the model file, the study and
 * scripts/set-source-gate.ts: on a flow (a ddpm model predicts noise, which a gate would only
 * scale) that starts at the sources (sum or average coupling; from gaussian noise, black
 * sources do not make a black start). `where` names the flag or file in the error.
 */
export function checkGateApplies(gate: number, objective: string, coupling: string, where: string): void {
  if (!(gate > 0)) return;
  if (objective === 'ddpm') throw new InputError(`${where}: a source gate holds the flow still where both sources are black; a ddpm model predicts noise`);
  if (coupling === 'gaussian') throw new InputError(`${where}: a source gate keeps black black only on a flow that starts at the sources (sum or average coupling), not from gaussian noise`);
}

/** Lightweight default: 16 -> 32 -> 64 channels, one block per level. */
export const DEFAULT_VELOCITY: VelocityConfig = {
  baseChannels: 16,
  channelMults: [1, 2, 4],
  blocksPerLevel: 1,
  attention: true,
  heads: 4,
  groups: 8,
  timeDim: 32,
};

export function unetConfig(c: VelocityConfig): UNetConfig {
  const { head, tasks: _tasks, choiceTrained: _choice, ...rest } = c; // the task embedding and the inference rules are the velocity net's, not the U-Net's
  return { inChannels: 3, outChannels: HEAD_PLANES[head ?? 'velocity'], upsample: 'nearest', ...rest };
}

export class VelocityNet extends Module {
  readonly unet: UNet;
  /** [tasks, embeddingDim]: one row per conditioning task (null for an unconditioned net) */
  readonly taskEmbedding: Parameter | null;
  constructor(readonly config: VelocityConfig = DEFAULT_VELOCITY) {
    super();
    this.unet = this.child('unet', new UNet(unetConfig(config)));
    const dim = this.unet.embeddingDim;
    if (config.tasks !== undefined) {
      const tasks = checkConditionTasks(config.tasks, 'VelocityNet');
      if (!dim) throw new InputError('VelocityNet: task conditioning needs a time embedding (timeDim)');
      // unit variance, as torch.nn.Embedding starts: the rows differ as much as the time embedding varies
      this.taskEmbedding = this.param('task_embedding', uniformInit([tasks.length, dim], 1, Math.sqrt(3)));
    } else this.taskEmbedding = null;
  }

  /**
   * Runs f, which must record its work synchronously, with the net's self-attention within square
   * windows of `side` tokens of its lowest level (null: over the whole map), then restores the
   * block's own setting. Forwards without gradient only (SelfAttention2d.window).
   */
  withAttentionWindow<T>(side: number | null, f: () => T): T {
    const attn = this.unet.midAttn;
    if (!attn) return f();
    const prev = attn.window;
    attn.window = side;
    try {
      return f();
    } finally {
      attn.window = prev;
    }
  }

  /** The tasks a conditioned net tells apart (empty: it takes no task). */
  get conditionTasks(): readonly string[] {
    return this.config.tasks ?? [];
  }

  /**
   * The embedding rows of `task` (one name for every sample, or one per sample), as [N,
   * embeddingDim]; null for an unconditioned net, which ignores the task.
   */
  private taskCondition(task: string | readonly string[] | undefined, n: number): Tensor | null {
    if (!this.taskEmbedding) return null;
    const tasks = this.conditionTasks;
    if (task === undefined) throw new InputError(`this model is task-conditioned: name its task (one of ${tasks.join(', ')})`);
    const names = typeof task === 'string' ? new Array<string>(n).fill(task) : task;
    if (names.length !== n) throw new ShapeError(`VelocityNet: expected ${n} task names, got ${names.length}`);
    const onehot = new Float32Array(n * tasks.length);
    names.forEach((name, i) => {
      const k = tasks.indexOf(name);
      if (k < 0) throw new InputError(`this model is conditioned on ${tasks.join(', ')}, not '${name}'`);
      onehot[i * tasks.length + k] = 1;
    });
    return matmul(tensor(onehot, [n, tasks.length]), this.taskEmbedding);
  }

  /** Height and width must be multiples of this: the U-Net's, and the pyramid head's coarsest level's (both powers of two). */
  get sizeMultiple(): number {
    return this.head === 'pyramid' ? Math.max(this.unet.sizeMultiple, 2 ** (PYRAMID_LEVELS - 1)) : this.unet.sizeMultiple;
  }

  /**
   * The tile side of the default ('portable') fusion: the largest square input side (a multiple
   * of sizeMultiple) whose attention scores (heads x T x T floats, T tokens at the lowest level)
   * would fit `bytes`. Attention is fused now and stores no scores, but global attention still
   * costs T squared, and the model was trained on crops: this keeps the attention window, and
   * the results, of the tiles it always used.
   */
  maxSide(bytes: number): number {
    const m = this.sizeMultiple;
    if (!this.config.attention) return 4096;
    const tokensPerSide = Math.floor((bytes / (4 * this.config.heads)) ** 0.25);
    return Math.max(m, Math.min(4096, tokensPerSide * m));
  }

  /**
   * Largest square input side for which every activation of one evaluation fits in `bytes` (one
   * storage binding), attention being fused: the largest tensor is a decoder concatenation at
   * full resolution (48 channels for the default net: 192 bytes per pixel, 836 px at 128 MiB).
   */
  maxSideByMemory(bytes: number): number {
    const m = this.sizeMultiple;
    const c = this.unet.config;
    const ch = c.channelMults.map((k) => k * c.baseChannels);
    let perPixel = c.inChannels;
    ch.forEach((ci, i) => {
      // decoder input at level i: its own channels plus the level below's (or its own skip)
      let widest = ci + Math.max(ci, ch[i + 1] ?? ci);
      if (i === ch.length - 1 && c.attention) widest = Math.max(widest, 3 * ci); // q, k, v
      perPixel = Math.max(perPixel, widest / 4 ** i);
    });
    const side = Math.floor(Math.sqrt(bytes / (4 * perPixel)) / m) * m;
    return Math.max(m, Math.min(16384, side));
  }

  get head(): VelocityHead {
    return this.config.head ?? 'velocity';
  }

  /**
   * xt, xA, xB: [N, 1, H, W]; t: N times in [0, 1]. x0: the flow's source (the start of the
   * path through xt), which the 'blend' head subtracts from its fused-image prediction. task:
   * the task of every sample (or of each), which a task-conditioned net needs and others ignore.
   */
  forward(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[], x0?: Tensor, task?: string | readonly string[]): Tensor {
    return this.evaluate(xt, xA, xB, t, x0, task, false).v;
  }

  /**
   * forward's velocity v and, for a blend head, the fused image of the hard choice its weight
   * logit makes from the same evaluation (HARD_CHOICE: the logit sharpened, no residual), which
   * the loss's choice term trains toward the label.
   */
  forwardWithChoice(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[], x0?: Tensor, task?: string | readonly string[]): { v: Tensor; choice?: Tensor } {
    return this.evaluate(xt, xA, xB, t, x0, task, true);
  }

  private evaluate(xt: Tensor, xA: Tensor, xB: Tensor, t: readonly number[], x0: Tensor | undefined, task: string | readonly string[] | undefined, withChoice: boolean): { v: Tensor; choice?: Tensor } {
    const m = this.sizeMultiple;
    if (xt.shape.length !== 4 || xt.shape[2]! % m || xt.shape[3]! % m) throw new ShapeError(`VelocityNet: inputs must be [N, 1, H, W] with H and W multiples of ${m}, got ${fmtShape(xt.shape)}`);
    const out = this.unet.forward(concat([xt, xA, xB]), t, this.taskCondition(task, xt.shape[0]!));
    let v = out;
    let choice: Tensor | undefined;
    if (isBlendHead(this.head)) {
      if (!x0) throw new ShapeError(`VelocityNet: the '${this.head}' head needs the flow's source x0`);
      v = sub(this.fusedPrediction(out, xA, xB, this.inferenceChoice(task)), x0);
      if (withChoice) choice = this.fusedPrediction(out, xA, xB, HARD_CHOICE, false);
    }
    const gateAt = this.config.sourceGate ?? 0;
    return { v: gateAt > 0 ? mul(v, clamp(affine(add(xA, xB), 1 / gateAt, 0), 0, 1)) : v, ...(choice ? { choice } : {}) };
  }

  /**
   * The choice rule of an inference forward (gradients off) of a blend-head net for this task:
   * INFERENCE_CHOICE's entry where a task-conditioned net fuses a task that has one (every
   * sample's task the same), else none.
   * Training forwards never take it. Knob FFM_BLEND_CHOICE=0 turns it off (the soft head
   * everywhere, as before 2026-12-05).
   */
  private inferenceChoice(task: string | readonly string[] | undefined): ChoiceRule | null {
    if (isGradEnabled() || knob('FFM_BLEND_CHOICE') === 0 || task === undefined) return null;
    const tasks = typeof task === 'string' ? [task] : task;
    // a net not conditioned on the task ignores it, here too
    const first = tasks[0];
    if (first === undefined || !this.conditionTasks.includes(first) || !tasks.every((x) => x === first)) return null;
    if (this.config.choiceTrained?.includes(first) && Object.hasOwn(CHOICE_TRAINED_INFERENCE, first)) return CHOICE_TRAINED_INFERENCE[first]!;
    return Object.hasOwn(INFERENCE_CHOICE, first) ? INFERENCE_CHOICE[first]! : null;
  }

  /**
   * The blend head's fused image: xB + sigmoid(k l) (xA - xB) + a r, k = a = 1 unless a choice
   * rule sets them. Diagnostic knobs (unset in normal use; for measuring what the weight map and
   * the residual each contribute, on held-out pairs) override both: FFM_BLEND_SHARPEN=<k>
   * multiplies the logit l by k (large k: a hard per-pixel choice), FFM_BLEND_RESIDUAL=<a>
   * multiplies r by a (0: the choice alone).
   */
  private fusedPrediction(out: Tensor, xA: Tensor, xB: Tensor, rule: ChoiceRule | null, knobs = true): Tensor {
    const sharpen = (knobs ? knob('FFM_BLEND_SHARPEN') : undefined) ?? rule?.sharpen;
    const residual = (knobs ? knob('FFM_BLEND_RESIDUAL') : undefined) ?? rule?.residual;
    const weight = (plane: number, level = 0) => {
      const logit = poolTimes(slice(out, plane, 1), level);
      return sigmoid(sharpen !== undefined ? affine(logit, sharpen, 0) : logit);
    };
    const rPlane = HEAD_PLANES[this.head] - 1;
    const r = slice(out, rPlane, 1);
    const rTerm = residual !== undefined ? affine(r, residual, 0) : r;
    if (this.head === 'pyramid') return add(add(xB, pyramidBlend(sub(xA, xB), (l) => weight(l, l))), rTerm);
    if (this.head !== 'blend2') return add(add(xB, mul(weight(0), sub(xA, xB))), rTerm);
    const [bA, bB] = [sourceBase(xA), sourceBase(xB)];
    const base = mul(weight(0), sub(bA, bB));
    const detail = mul(weight(1), sub(sub(xA, bA), sub(xB, bB)));
    return add(add(add(xB, base), detail), rTerm);
  }

}
