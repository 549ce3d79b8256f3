/**
 * fusionfm command line.
 *   fusionfm eval --data <task/dataset | dir> [--split test] [--methods ...] [--metrics ...] --out <dir>
 *   fusionfm fuse --method <classical fuser> <a> <b> -o <out.png>
 *   fusionfm metrics            (list metric names and conventions)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { classicalNames } from '../fusion/classical/index.js';
import { METRICS } from '../fusion/metrics/index.js';
import { DeviceError, InputError } from '../util/errors.js';
import { systemErrorMessage } from './system-error.js';
import { DEFAULT_METRICS, runEval } from './eval.js';
import { progressPrinter } from './progress.js';
import { benchBounds, FULL, QUICK, runBench } from './bench.js';
import { runDemo } from './demo.js';
import { runFuse } from './fuse.js';
import { runTrain } from './train.js';
import { existsSync } from 'node:fs';
import { checkTask } from '../fusion/pseudo/selection.js';
import { pseudoGtCommand } from './pseudo-gt-command.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../fusion/flow/trainer.js';
import { DEFAULT_CONTINUAL, type ContinualConfig } from '../fusion/flow/continual.js';
import { DEFAULT_DATASETS } from '../io/dataset.js';
import { checkCoupling } from '../fusion/flow/path.js';
import { checkGateApplies, checkHead, checkSourceGate, isBlendHead } from '../fusion/flow/model.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { useRuntime } from '../autograd/tensor.js';

const USAGE = `usage:
  fusionfm eval --data <task/dataset or folder> [--split test|train|all] [--methods m1,m2,...] [--metrics EN,SD,...] [--convention vifb|mefb|cddfuse] --out <dir> [--overwrite]
      methods: published candidate folders, 'all', classical:<${classicalNames().join('|')}>, 'classical', or label=<folder of fused images>
  fusionfm fuse [--task ivf|mif|mef|mff] [--checkpoint model.safetensors] [--steps 1] [--solver euler|midpoint|rk4] [--tiles auto|portable|device|whole] [--attention-window <tokens>|whole] [--norm-window <px>|whole] <a> <b> -o <out.png> [--overwrite]
  fusionfm fuse --method <${classicalNames().join('|')}> <a> <b> -o <out.png>
  fusionfm fuse ... --data <task/dataset> [--split test] -o <folder>     (every pair of a split)
  fusionfm train --task <t>[,<t>...] [--data <task/dataset>[,...]] --labels candidate:<method>|classical:<fuser>|<folder>|<labels root> --out <run dir> [--steps N] [--batch B] [--crop S] [--lr x] [--seed n] [--coupling sum|average|gaussian] [--objective flow|ddpm] [--ema-decay d] [--ema-warmup] [--loss-margin px] [--grad-loss w] [--texture-loss w] [--head velocity|blend|blend2|pyramid] [--source-gate levels] [--swap-sources <t>[,<t>...]] [--hold-out K] [--task-embedding] [--task-weights t=w,...] [--own-path p] [--choice-loss t=w,...] [--mixed-crop SxB [--mixed-every N]] [--init model.safetensors] [--resume]
  fusionfm train --tasks ivf,mif,mef,mff --labels <labels root> --out <run dir> [--steps N per task] [--ewc-lambda 0.01] [--ewc-fisher-scale global|tensor] [--fisher-samples 64] [--replay-size 256] [--replay-ratio 0.25] [--reset-optimizer] ...
      (--task: one model on all listed tasks at once; --tasks: in sequence, with EWC + replay; --data defaults to every shared dataset of the tasks)
  fusionfm pseudo-gt --task <t> --data <task/dataset> [--split train] --out <labels dir> [--stage 1|2] [--pool published,classical] [--candidates dir1,dir2]
      [--weights table.json] [--c x] [--alpha x] [--probe-steps n] [--sweep-c 0.3,0.5 --sweep-alpha 0.5,1,2] [--stage1-method <candidate>] [--overwrite]
  fusionfm pseudo-gt --print-weights     (the default per-task selection table, as JSON)
  fusionfm demo [--out out/demo] [--checkpoint model.safetensors | --method gff]   (fuses the bundled sample pairs)
  fusionfm bench [--task ivf] [--ddpm checkpoints/baseline-ddpm.safetensors] [--flow checkpoints/default.safetensors] [--quick] [--data <task/dataset>] [--pairs N] [--crop S] [--flow-steps 1,2,4] [--ddim-steps 1,5,10,25,50,100] [--sizes 256x256,640x480] [--rounds 3] [--out dir] [--bounds-cache file.json [--prepare-bounds]]
  fusionfm metrics`;

/**
 * --swap-sources: the tasks (of those trained) whose crops exchange A and B at random. In a joint
 * run (--task a,b) the tasks' crops are mixed in one batch, so the swap is for --tasks (in
 * sequence) or a single --task.
 */
function checkSwapSources(v: string, tasks: readonly string[], joint: boolean): string[] {
  const list = v.split(',').filter(Boolean);
  if (!list.length) throw new InputError(`--swap-sources: expected tasks such as mff,mef, got '${v}'`);
  for (const t of list) if (!tasks.includes(t)) throw new InputError(`--swap-sources: '${t}' is not a task of this run (${tasks.join(', ')})`);
  if (joint && tasks.length > 1) throw new InputError('--swap-sources applies to one --task or to --tasks trained in sequence, not to several tasks trained jointly');
  return list;
}

/**
 * --task-weights ivf=2,mff=3: in a joint run (--task a,b,...), each batch sample's task is drawn
 * with probability proportional to its weight (tasks not named weigh 1).
 */
function checkTaskWeights(v: string, tasks: readonly string[], joint: boolean): Record<string, number> {
  if (!joint || tasks.length < 2) throw new InputError('--task-weights applies to several tasks trained jointly (--task a,b,...), not to one task or to --tasks in sequence');
  return taskNumbers('--task-weights', v, tasks);
}

/** --flag's task=number pairs (each task of this run, once; each number positive), e.g. mff=2,ivf=1.5. */
function taskNumbers(flag: string, v: string, tasks: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of v.split(',').filter(Boolean)) {
    const [t, x, extra] = item.split('=');
    const w = Number(x);
    if (!t || x === undefined || extra !== undefined || !Number.isFinite(w) || w <= 0) throw new InputError(`${flag}: expected task=weight pairs with positive weights such as mff=2,ivf=1.5, got '${item}'`);
    if (!tasks.includes(t)) throw new InputError(`${flag}: '${t}' is not a task of this run (${tasks.join(', ')})`);
    if (t in out) throw new InputError(`${flag} names '${t}' twice`);
    out[t] = w;
  }
  if (!Object.keys(out).length) throw new InputError(`${flag}: expected task=weight pairs such as mff=2, got '${v}'`);
  return out;
}

/**
 * --mixed-crop 128x1 [--mixed-every 2]: every N-th training step draws B crops of S px instead of
 * --batch crops of --crop px (TrainConfig.mixedCrop).
 */
function checkMixedCrop(v: string, every: string | undefined): { crop: number; batch: number; every: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  const crop = m ? Number(m[1]) : NaN;
  const batch = m ? Number(m[2]) : NaN;
  if (!m || crop < 8 || batch < 1) throw new InputError(`--mixed-crop: expected <side>x<batch> such as 128x1, got '${v}'`);
  const n = every === undefined ? 2 : Number(every);
  if (!Number.isInteger(n) || n < 2) throw new InputError(`--mixed-every must be a whole number of steps, at least 2, got '${every}'`);
  return { crop, batch, every: n };
}

/** The usage lines of one command (with their indented continuations), or all of them. */
function usageOf(cmd: string | undefined): string {
  const lines = USAGE.split('\n').slice(1);
  const out: string[] = [];
  let inCmd = false;
  for (const l of lines) {
    if (l.startsWith('  fusionfm ')) inCmd = l.startsWith(`  fusionfm ${cmd} `) || l === `  fusionfm ${cmd}`;
    if (inCmd) out.push(l);
  }
  return out.length ? `usage:\n${out.join('\n')}` : USAGE;
}

const HELP = new Set(['--help', '-h', 'help']);

function list(v: string | undefined, dflt: string[]): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : dflt;
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  // `fusionfm --help`, `fusionfm help [cmd]` and `fusionfm <cmd> --help` print usage and succeed
  if (cmd !== undefined && HELP.has(cmd)) {
    console.log(usageOf(rest[0]));
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(usageOf(cmd));
    return;
  }
  if (cmd === 'eval') {
    const { values } = parseArgs({ args: rest, options: {
      data: { type: 'string' }, split: { type: 'string', default: 'test' }, methods: { type: 'string' },
      metrics: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean', default: false }, convention: { type: 'string' },
    } });
    if (values.convention && !['vifb', 'mefb', 'cddfuse'].includes(values.convention)) throw new InputError(`--convention must be vifb, mefb or cddfuse, got '${values.convention}'`);
    if (!values.data || !values.out) throw new InputError(`eval needs --data and --out\n${USAGE}`);
    if (!['train', 'test', 'all'].includes(values.split!)) throw new InputError(`--split must be train, test or all, got '${values.split}'`);
    const { means, metrics } = await runEval({
      data: values.data, split: values.split as 'train' | 'test' | 'all', methods: list(values.methods, ['all', 'classical']),
      metrics: list(values.metrics, DEFAULT_METRICS), convention: values.convention as 'vifb' | 'mefb' | 'cddfuse' | undefined, out: values.out, overwrite: values.overwrite,
    }, progressPrinter());
    const ids = metrics.map((m) => m.id);
    console.log(['method'.padEnd(20), ...ids.map((i) => i.padStart(14))].join(''));
    for (const m of means) console.log([m.method.padEnd(20), ...m.values.map((v) => (Number.isFinite(v) ? v.toPrecision(5) : 'NaN').padStart(14))].join(''));
    console.log(`wrote ${values.out}/per_image.csv, mean.csv, report.html`);
    return;
  }
  if (cmd === 'fuse') {
    await runFuse(rest);
    return;
  }
  if (cmd === 'bench') {
    const { values } = parseArgs({ args: rest, options: {
      task: { type: 'string', default: 'ivf' }, data: { type: 'string' }, flow: { type: 'string', default: 'checkpoints/default.safetensors' }, ddpm: { type: 'string', default: 'checkpoints/baseline-ddpm.safetensors' },
      quick: { type: 'boolean', default: false }, pairs: { type: 'string' }, crop: { type: 'string' }, 'flow-steps': { type: 'string' }, 'ddim-steps': { type: 'string' },
      sizes: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' }, 'bounds-cache': { type: 'string' }, 'prepare-bounds': { type: 'boolean', default: false },
    } });
    const task = checkTask(values.task);
    const preset = values.quick ? QUICK : FULL;
    const ints = (name: string, v: string | undefined, dflt: number[]) => {
      if (v === undefined) return dflt;
      const xs = v.split(',').map(Number);
      if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new InputError(`--${name} must be positive integers separated by commas, got '${v}'`);
      return xs;
    };
    const sizes = values.sizes === undefined ? preset.sizes : values.sizes.split(',').map((s) => {
      const m = /^(\d+)x(\d+)$/.exec(s);
      if (!m || +m[1]! < 1 || +m[2]! < 1) throw new InputError(`--sizes entries must look like 640x480, got '${s}'`);
      return [+m[1]!, +m[2]!] as [number, number];
    });
    const pairsN = values.pairs === undefined ? preset.pairs : ints('pairs', values.pairs, [1])[0]!;
    const cropN = ints('crop', values.crop, [preset.crop])[0]!;
    if (values['prepare-bounds']) {
      // the pool bounds only (CPU), for a machine without the candidate folders
      if (!values['bounds-cache']) throw new InputError('--prepare-bounds needs --bounds-cache <file.json>');
      const b = await benchBounds({ task, data: values.data ?? DEFAULT_DATASETS[task][0], pairs: pairsN, crop: cropN, boundsCache: values['bounds-cache'] });
      console.log(`${values['bounds-cache']}: pool bounds of ${b.bounds.size} test crops (${cropN}x${cropN}), pool ${b.pool}`);
      return;
    }
    if (!existsSync(values.ddpm!)) throw new InputError(`--ddpm ${values.ddpm}: no such file; the diffusion baseline is made by npm run train:baseline (or fusionfm train --objective ddpm)`);
    useRuntime(await getNodeRuntime());
    const r = await runBench({
      task, data: values.data ?? DEFAULT_DATASETS[task][0], flow: values.flow!, ddpm: values.ddpm!,
      flowSteps: ints('flow-steps', values['flow-steps'], preset.flowSteps), ddimSteps: ints('ddim-steps', values['ddim-steps'], preset.ddimSteps),
      pairs: pairsN, crop: cropN, sizes, boundsCache: values['bounds-cache'],
      rounds: ints('rounds', values.rounds, [preset.rounds])[0]!, out: values.out ?? join('bench', 'results', `diffusion-${task}${values.quick ? '-quick' : ''}`),
      command: `fusionfm bench ${rest.join(' ')}`,
    }, progressPrinter());
    for (const s of r.speedup) console.log(`${s.size}: FusionFM k=1 ${s.fusionfm_ms} ms, DDIM S=${s.ddim_steps} ${s.ddim_ms} ms -> ${s.ratio}x${s.matched ? '' : ' (DDIM never matched; largest S)'}`);
    console.log(`wrote ${values.out ?? join('bench', 'results', `diffusion-${task}${values.quick ? '-quick' : ''}`)}/results.json, report.html (adapter ${r.adapter})`);
    (await getNodeRuntime()).destroy();
    return;
  }
  if (cmd === 'train') {
    const { values } = parseArgs({ args: rest, options: {
      task: { type: 'string' }, tasks: { type: 'string' }, data: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean', default: false },
      steps: { type: 'string' }, batch: { type: 'string' }, crop: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
      coupling: { type: 'string' }, width: { type: 'string' }, 'checkpoint-every': { type: 'string', default: '200' }, 'ema-decay': { type: 'string' }, 'ema-warmup': { type: 'boolean', default: false },
      'ewc-lambda': { type: 'string' }, 'ewc-fisher-scale': { type: 'string' }, 'fisher-samples': { type: 'string' }, 'replay-size': { type: 'string' }, 'replay-ratio': { type: 'string' }, 'reset-optimizer': { type: 'boolean', default: false },
      objective: { type: 'string', default: 'flow' }, 'loss-margin': { type: 'string' }, head: { type: 'string' }, 'grad-loss': { type: 'string' },
      'source-gate': { type: 'string' }, 'swap-sources': { type: 'string' }, 'hold-out': { type: 'string' }, 'task-embedding': { type: 'boolean', default: false },
      'task-weights': { type: 'string' }, 'own-path': { type: 'string' }, 'texture-loss': { type: 'string' }, 'choice-loss': { type: 'string' }, init: { type: 'string' },
      'mixed-crop': { type: 'string' }, 'mixed-every': { type: 'string' },
    } });
    if (values.objective !== 'flow' && values.objective !== 'ddpm') throw new InputError(`--objective must be flow (FusionFM) or ddpm (the diffusion baseline), got '${values.objective}'`);
    if (values.task && values.tasks) throw new InputError('pass --task (one task, or several trained jointly) or --tasks (trained in sequence), not both');
    const taskList = values.tasks ?? values.task;
    if (!taskList || !values.labels || !values.out) throw new InputError(`train needs --task or --tasks, --labels and --out\n${USAGE}`);
    const tasks = taskList.split(',');
    for (const t of tasks) checkTask(t);
    if (values.tasks && new Set(tasks).size !== tasks.length) throw new InputError(`--tasks names a task twice: '${values.tasks}'`);
    const data = values.data ?? tasks.flatMap((t) => DEFAULT_DATASETS[t as keyof typeof DEFAULT_DATASETS]).join(',');
    for (const id of data.split(',')) if (!tasks.includes(id.split('/')[0]!) && !existsSync(id)) throw new InputError(`--data ${id} is not a dataset of ${values.tasks ? '--tasks' : '--task'} ${taskList}`);
    const num = (name: string, v: string | undefined, dflt: number, kind: 'int' | 'pos' | 'nonneg' = 'int') => {
      if (v === undefined) return dflt;
      const x = Number(v);
      const ok = Number.isFinite(x) && (kind === 'nonneg' ? x >= 0 : x > 0) && (kind !== 'int' || Number.isInteger(x));
      if (!ok) throw new InputError(`--${name} must be a ${kind === 'int' ? 'positive integer' : kind === 'pos' ? 'positive number' : 'non-negative number'}, got '${v}'`);
      return x;
    };
    const base = num('width', values.width, DEFAULT_TRAIN.model.baseChannels);
    const ema = num('ema-decay', values['ema-decay'], DEFAULT_TRAIN.emaDecay, 'pos');
    if (ema >= 1) throw new InputError(`--ema-decay must be below 1, got '${values['ema-decay']}'`);
    const head = values.head !== undefined ? checkHead(values.head, '--head') : undefined;
    // recorded only when given (and not 0), like the head, so that older runs resume as they were
    const gate = values['source-gate'] !== undefined ? checkSourceGate(Number(values['source-gate']), '--source-gate') : 0;
    const config: TrainConfig = {
      ...DEFAULT_TRAIN,
      // the head is recorded only when given, so that older runs resume with their configuration
      model: { ...DEFAULT_TRAIN.model, baseChannels: base, ...(head !== undefined ? { head } : {}), ...(gate ? { sourceGate: gate } : {}),
        // the net takes the task as input (an embedding row per task), recorded only when asked for
        ...(values['task-embedding'] ? { tasks } : {}) },
      steps: num('steps', values.steps, DEFAULT_TRAIN.steps), batch: num('batch', values.batch, DEFAULT_TRAIN.batch),
      crop: num('crop', values.crop, DEFAULT_TRAIN.crop), lr: num('lr', values.lr, DEFAULT_TRAIN.lr, 'pos'), seed: num('seed', values.seed, DEFAULT_TRAIN.seed),
      coupling: checkCoupling(values.coupling ?? DEFAULT_TRAIN.coupling), emaDecay: ema,
      // only a ddpm run records its objective, so flow runs keep their configuration (and --resume) as before
      ...(values.objective === 'ddpm' ? { objective: 'ddpm' as const } : {}),
      // likewise a loss margin is recorded only when given
      ...(values['loss-margin'] !== undefined ? { lossMargin: num('loss-margin', values['loss-margin'], 0, 'nonneg') } : {}),
      ...(values['ema-warmup'] ? { emaWarmup: true } : {}),
      ...(values['grad-loss'] !== undefined ? { gradLoss: num('grad-loss', values['grad-loss'], 0, 'nonneg') } : {}),
      ...(values['texture-loss'] !== undefined ? { textureLoss: num('texture-loss', values['texture-loss'], 0, 'nonneg') } : {}),
      ...(values['swap-sources'] !== undefined ? { swapSources: checkSwapSources(values['swap-sources'], tasks, !values.tasks) } : {}),
      ...(values['task-weights'] !== undefined ? { taskWeights: checkTaskWeights(values['task-weights'], tasks, !values.tasks) } : {}),
      ...(values['own-path'] !== undefined ? { ownPath: num('own-path', values['own-path'], 0, 'nonneg') } : {}),
      ...(values['choice-loss'] !== undefined ? { choiceLoss: taskNumbers('--choice-loss', values['choice-loss'], tasks) } : {}),
      ...(values['mixed-crop'] !== undefined ? { mixedCrop: checkMixedCrop(values['mixed-crop'], values['mixed-every']) } : {}),
    };
    if (values['mixed-every'] !== undefined && !config.mixedCrop) throw new InputError('--mixed-every applies with --mixed-crop');
    // the model records the tasks its map was trained to choose for (the inference rule for them follows it)
    if (config.choiceLoss) config.model = { ...config.model, choiceTrained: Object.keys(config.choiceLoss) };
    if (config.choiceLoss && !isBlendHead(config.model.head)) throw new InputError("--choice-loss trains the blend head's choice between the sources: it needs --head blend, blend2 or pyramid");
    if ((config.ownPath ?? 0) > 1) throw new InputError(`--own-path is a fraction of each batch, from 0 to 1, got '${values['own-path']}'`);
    if (config.ownPath && values.objective === 'ddpm') throw new InputError('--own-path applies to flow matching, not to --objective ddpm');
    // the smaller of --crop and --mixed-crop bounds the margin: a step on either must keep an interior
    const smallestCrop = Math.min(config.crop, config.mixedCrop?.crop ?? config.crop);
    if (config.lossMargin !== undefined && (!Number.isInteger(config.lossMargin) || 2 * config.lossMargin >= smallestCrop)) throw new InputError(`--loss-margin must be a whole number of pixels below half the crop (${smallestCrop}), got '${values['loss-margin']}'`);
    if (isBlendHead(config.model.head) && values.objective === 'ddpm') throw new InputError(`--head ${config.model.head} predicts a fused image for flow matching; --objective ddpm predicts noise (use --head velocity)`);
    checkGateApplies(gate, values.objective ?? 'flow', config.coupling, '--source-gate');
    if (config.gradLoss && values.objective === 'ddpm') throw new InputError('--grad-loss applies to flow matching, not to --objective ddpm');
    if (config.textureLoss && values.objective === 'ddpm') throw new InputError('--texture-loss applies to flow matching, not to --objective ddpm');
    if (config.lossMargin && values.objective === 'ddpm') throw new InputError('--loss-margin applies to flow matching, not to --objective ddpm');
    const replaySize = num('replay-size', values['replay-size'], DEFAULT_CONTINUAL.replayQuota * tasks.length, 'nonneg');
    if (!Number.isInteger(replaySize)) throw new InputError(`--replay-size must be a whole number of crops, got '${values['replay-size']}'`);
    const replayRatio = num('replay-ratio', values['replay-ratio'], DEFAULT_CONTINUAL.replayRatio, 'nonneg');
    if (replayRatio >= 1) throw new InputError(`--replay-ratio must be below 1, got '${values['replay-ratio']}'`);
    const fisherScale = values['ewc-fisher-scale'] ?? 'global';
    if (fisherScale !== 'global' && fisherScale !== 'tensor') throw new InputError(`--ewc-fisher-scale: expected global or tensor, got '${fisherScale}'`);
    const continual: ContinualConfig | undefined = values.tasks ? {
      tasks, stepsPerTask: config.steps,
      ewcLambda: num('ewc-lambda', values['ewc-lambda'], DEFAULT_CONTINUAL.ewcLambda, 'nonneg'),
      fisherSamples: num('fisher-samples', values['fisher-samples'], DEFAULT_CONTINUAL.fisherSamples),
      // --replay-size is the whole buffer; each task's quota is an equal share of it
      replayQuota: replaySize === 0 ? 0 : Math.max(1, Math.floor(replaySize / tasks.length)),
      replayRatio,
      // recorded only when not the default, so that runs from before the option still resume
      ...(fisherScale === 'tensor' ? { fisherScale } : {}),
      ...(values['reset-optimizer'] ? { resetOptimizer: true } : {}),
    } : undefined;
    if (!values.tasks && values['reset-optimizer']) throw new InputError('--reset-optimizer applies to sequential training (--tasks)');
    if (!values.tasks) for (const k of ['ewc-lambda', 'ewc-fisher-scale', 'fisher-samples', 'replay-size', 'replay-ratio'] as const) if (values[k] !== undefined) throw new InputError(`--${k} applies to sequential training (--tasks)`);
    // validation pairs kept out of training (scored by bench/flow/flow-ivf.js --held-out K)
    const holdOut = num('hold-out', values['hold-out'], 0, 'nonneg');
    if (!Number.isInteger(holdOut)) throw new InputError(`--hold-out must be a whole number of pairs per dataset, got '${values['hold-out']}'`);
    useRuntime(await getNodeRuntime());
    const trainer = await runTrain({ task: taskList, data, labels: values.labels, out: values.out, resume: values.resume!, checkpointEvery: num('checkpoint-every', values['checkpoint-every'], 200), config, continual, command: `fusionfm train ${rest.join(' ')}`, ...(holdOut ? { holdOut } : {}), ...(values.init ? { init: values.init } : {}) }, progressPrinter());
    console.log(`trained to step ${trainer.step}; model in ${values.out}/model.safetensors`);
    (await getNodeRuntime()).destroy();
    return;
  }
  if (cmd === 'pseudo-gt') {
    await pseudoGtCommand(rest);
    return;
  }
  if (cmd === 'demo') {
    const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: 'out/demo' }, method: { type: 'string' }, checkpoint: { type: 'string' } } });
    await runDemo(values.out!, { method: values.method, checkpoint: values.checkpoint });
    return;
  }
  if (cmd === 'metrics') {
    for (const m of METRICS.values()) console.log(`${m.id.padEnd(24)} ${m.higherIsBetter ? 'higher' : 'lower '} is better  ${m.description}`);
    return;
  }
  throw new InputError(`${cmd ? `unknown command '${cmd}'` : 'no command'}\n${USAGE}`);
}

/** node:util parseArgs rejects an unknown option or a missing value with a code, not an InputError */
const isArgError = (e: unknown) => typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS');

main(process.argv.slice(2)).catch((e: Error) => {
  const argv = process.argv.slice(2);
  if (isArgError(e)) {
    console.error(`fusionfm ${argv[0]}: ${e.message.split('. To specify')[0]}\n${usageOf(argv[0])}`);
    process.exit(2);
  }
  const sys = systemErrorMessage(e);
  if (sys) {
    console.error(`fusionfm: ${sys}`);
    process.exit(1);
  }
  // a device problem is the machine's, not a bug of ours: its message says what to do, no stack
  console.error(e instanceof InputError || e instanceof DeviceError ? `fusionfm: ${e.message}` : e);
  process.exit(e instanceof InputError ? 2 : 1);
});
