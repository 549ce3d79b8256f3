/**
 * Choosing the EWC lambda of EWC + replay on validation pairs (bench/continual/continual.ts --val-pairs):
 * among the EWC + replay settings that share replay's buffer and differ only in lambda, the one
 * with the best mean validation ACC over the seeds that every setting ran. ACC (the final
 * average quality over all tasks) is the rule because it is what a user of the four-task model
 * gets, and it already pays for forgetting; BWT alone would reward a net that learnt little.
 * The test split plays no part in the choice.
 */
import { mean, type ContinualResults, type VariantResult } from './continual-report.js';

export interface LambdaRow { variant: string; lambda: number; seeds: number[]; ACC: number; BWT: number }
export interface LambdaChoice { rows: LambdaRow[]; chosen: LambdaRow; replay: LambdaRow | null }

/** Replay alone and the EWC + replay settings that vary lambda only (global Fisher, replay's buffer size). */
function lambdaFamily(r: ContinualResults): VariantResult[] {
  const replaySize = r.variants.find((v) => v.variant === 'replay')?.replay_size;
  if (replaySize === undefined) throw new Error(`${r.command}: no 'replay' runs, so no buffer size to hold fixed`);
  return r.variants.filter((v) => v.replay_size === replaySize && (v.variant === 'replay' || v.variant === 'EWC + replay' || v.variant.startsWith('EWC + replay, lambda ')));
}

/** Mean ACC and BWT per setting of the family over the seeds all of them ran; the lambda (> 0) of the best ACC, the smaller on a tie. */
export function chooseLambda(val: ContinualResults): LambdaChoice {
  if (val.split !== 'validation') throw new Error(`${val.command}: not scored on validation pairs (run bench/continual/continual.ts with --val-pairs); choosing on the test split is what this avoids`);
  const family = lambdaFamily(val);
  const names = [...new Set(family.map((v) => v.variant))];
  const seedsOf = (name: string) => new Set(family.filter((v) => v.variant === name).map((v) => v.seed ?? 1));
  const common = [...seedsOf(names[0]!)].filter((s) => names.every((n) => seedsOf(n).has(s))).sort((a, b) => a - b);
  if (!common.length) throw new Error(`${val.command}: the lambda settings share no seed`);
  const rows = names.map((name): LambdaRow => {
    const vs = family.filter((v) => v.variant === name && common.includes(v.seed ?? 1));
    return { variant: name, lambda: vs[0]!.ewc_lambda, seeds: common, ACC: mean(vs.map((v) => v.ACC)), BWT: mean(vs.map((v) => v.BWT)) };
  }).sort((a, b) => a.lambda - b.lambda);
  const withEwc = rows.filter((r) => r.lambda > 0);
  if (!withEwc.length) throw new Error(`${val.command}: no EWC + replay setting to choose from`);
  const chosen = withEwc.reduce((best, r) => (r.ACC > best.ACC ? r : best));
  return { rows, chosen, replay: rows.find((r) => r.lambda === 0) ?? null };
}
