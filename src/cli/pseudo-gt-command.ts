/** Argument parsing for `fusionfm pseudo-gt` (the work is in pseudo-gt.ts). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { useRuntime } from '../autograd/tensor.js';
import { DEFAULT_PROBE } from '../fusion/pseudo/probe.js';
import { checkTask, checkWeights, DEFAULT_WEIGHTS } from '../fusion/pseudo/selection.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { InputError } from '../util/errors.js';
import { progressPrinter } from './progress.js';
import { DEFAULT_REFINE, runPseudoGt } from './pseudo-gt.js';

function numbers(name: string, v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x < 0)) throw new InputError(`--${name} must be a comma-separated list of non-negative numbers, got '${v}'`);
  return xs;
}

export async function pseudoGtCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: {
    task: { type: 'string' }, data: { type: 'string' }, split: { type: 'string', default: 'train' }, out: { type: 'string' },
    stage: { type: 'string', default: '2' }, pool: { type: 'string', default: 'published,classical' }, candidates: { type: 'string' },
    weights: { type: 'string' }, c: { type: 'string' }, alpha: { type: 'string' }, 'probe-steps': { type: 'string' },
    'sweep-c': { type: 'string' }, 'sweep-alpha': { type: 'string' }, 'stage1-method': { type: 'string' }, overwrite: { type: 'boolean', default: false }, 'print-weights': { type: 'boolean', default: false },
  } });
  if (values['print-weights']) {
    console.log(JSON.stringify(DEFAULT_WEIGHTS, null, 1));
    return;
  }
  const task = checkTask(values.task);
  if (!values.data || !values.out) throw new InputError('pseudo-gt needs --task, --data and --out');
  if (!['train', 'test', 'all'].includes(values.split!)) throw new InputError(`--split must be train, test or all, got '${values.split}'`);
  if (!['1', '2'].includes(values.stage!)) throw new InputError(`--stage must be 1 (selection only) or 2 (selection + refiner), got '${values.stage}'`);
  const pool = values.pool!.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of pool) if (p !== 'published' && p !== 'classical') throw new InputError(`--pool takes 'published' and/or 'classical', got '${p}'`);
  let weights = DEFAULT_WEIGHTS;
  if (values.weights) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(values.weights, 'utf8'));
    } catch (e) {
      throw new InputError(`--weights ${values.weights}: not readable JSON (${(e as Error).message})`);
    }
    weights = checkWeights(parsed, values.weights);
  }
  const one = (name: string, v: string | undefined, dflt: number) => (v === undefined ? dflt : numbers(name, v)!.length === 1 ? numbers(name, v)![0]! : (() => { throw new InputError(`--${name} takes one number, got '${v}'`); })());
  const refine = values.stage === '2' ? { c: one('c', values.c, DEFAULT_REFINE[task].c), alpha: one('alpha', values.alpha, DEFAULT_REFINE[task].alpha) } : null;
  const probeSteps = one('probe-steps', values['probe-steps'], DEFAULT_PROBE.steps);
  if (!Number.isInteger(probeSteps) || probeSteps < 1) throw new InputError(`--probe-steps must be a positive integer, got '${values['probe-steps']}'`);
  const sc = numbers('sweep-c', values['sweep-c']);
  const sa = numbers('sweep-alpha', values['sweep-alpha']);
  if (!!sc !== !!sa) throw new InputError('--sweep-c and --sweep-alpha go together');
  if (refine) useRuntime(await getNodeRuntime());
  const s = await runPseudoGt({
    task, data: values.data, split: values.split as 'train' | 'test' | 'all', out: values.out,
    pool: { published: pool.includes('published'), classical: pool.includes('classical'), folders: values.candidates ? values.candidates.split(',').filter(Boolean) : [] },
    weights, refine, probe: { ...DEFAULT_PROBE, steps: probeSteps }, overwrite: values.overwrite!, command: `fusionfm pseudo-gt ${args.join(' ')}`,
    sweep: sc && sa ? { c: sc, alpha: sa } : undefined,
    // a sweep picks the setting of the written labels unless --c/--alpha fix it
    tune: !!(sc && sa) && values.c === undefined && values.alpha === undefined,
    stage1Method: values['stage1-method'],
  }, progressPrinter());
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
  console.log(`${s.dataset} ${s.split}: ${s.pairs} pairs; composite stage1 ${f(s.composite.stage1)}, refined ${f(s.composite.refined)}, top-2 average ${f(s.composite.top2avg)}, best single method ${s.best_single_method.name} ${f(s.best_single_method.composite)}`);
  console.log(`labels in ${values.out}/<pair>.png; scores.csv, evaluation.csv, report.html, summary.json beside them`);
  if (refine) (await getNodeRuntime()).destroy();
}
