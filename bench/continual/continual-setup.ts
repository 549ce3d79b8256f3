/**
 * What the continual study and its Fisher diagnosis share: the training data (pseudo labels of
 * every task's train split, grouped by task) and the training configuration of the study's nets.
 */
import { loadTriples } from '../../src/cli/train.js';
import { DEFAULT_TRAIN, type TrainConfig, type Triple } from '../../src/fusion/flow/trainer.js';
import { DEFAULT_DATASETS, heldOutIndices } from '../../src/io/dataset.js';
import type { Task } from '../../src/fusion/pseudo/selection.js';

export const STUDY_TASKS: Task[] = ['ivf', 'mif', 'mef', 'mff'];

/** Training triples of every task's train split, by task. */
export async function studyData(labels: string): Promise<Map<string, Triple[]>> {
  const { triples } = await loadTriples({ data: STUDY_TASKS.flatMap((t) => DEFAULT_DATASETS[t]).join(','), labels });
  const byTask = new Map<string, Triple[]>();
  for (const t of triples) byTask.set(t.group!, [...(byTask.get(t.group!) ?? []), t]);
  return byTask;
}

/**
 * Splits off k training pairs per task as a validation set (for choosing settings such as the
 * EWC lambda without looking at the test split): the pairs at evenly spaced positions of the
 * task's list, so that a task of several datasets (MIF) gives pairs of more than one of them.
 * Returns the remaining training triples and the held-out ones, both by task.
 */
export function holdOutPairs(byTask: Map<string, Triple[]>, k: number): { train: Map<string, Triple[]>; val: Map<string, Triple[]> } {
  const train = new Map<string, Triple[]>();
  const val = new Map<string, Triple[]>();
  for (const [task, ts] of byTask) {
    const picked = heldOutIndices(ts.length, k, `--val-pairs (task ${task})`);
    train.set(task, ts.filter((_, i) => !picked.has(i)));
    val.set(task, ts.filter((_, i) => picked.has(i)));
  }
  return { train, val };
}

// 'small' fits a software GPU's budget; 'default' is the shipped architecture (DEFAULT_VELOCITY)
const SMALL = { baseChannels: 8, channelMults: [1, 2, 4], blocksPerLevel: 1, attention: true, heads: 2, groups: 4, timeDim: 16 };

/** The study's training configuration (options as given on the command line, checked here). */
export function studyTrainConfig(o: { net?: string; batch?: string; crop?: string; seed?: string }): TrainConfig {
  if (o.net !== 'small' && o.net !== 'default') throw new Error(`--net: expected small or default, got ${o.net}`);
  const seed = Number(o.seed);
  if (!Number.isInteger(seed) || seed < 1) throw new Error(`--seed: expected a positive integer, got ${o.seed}`);
  return {
    ...DEFAULT_TRAIN,
    model: o.net === 'small' ? { ...DEFAULT_TRAIN.model, ...SMALL } : DEFAULT_TRAIN.model,
    batch: Number(o.batch), crop: Number(o.crop), lr: o.net === 'small' ? 2e-3 : DEFAULT_TRAIN.lr, warmup: 10, emaDecay: 0.99, seed,
  };
}
