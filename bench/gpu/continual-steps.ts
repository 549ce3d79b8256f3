/**
 * Sizes the GPU continual stage: from the probes of every process (bench/continual/continual.ts
 * --probe-seconds, all run at once), the largest steps per task, a multiple of 10, with which
 * the slowest process still ends within --seconds. Prints the number (0 when none fits).
 *
 *   node dist/bench/gpu/continual-steps.js --seconds 400 [--max 800] probe-*.json
 * One process needs: its setup, the untrained net's evaluation row, 4 tasks x S steps, an
 * evaluation row after each task (a single-task reference scores one task per net, one row in
 * all), and with EWC the Fisher samples after each task (counted as a training step each, which
 * overstates a batch-1 pass). Steps are stretched by 15% and 15 s are kept for writing results.
 */
import { readFileSync } from 'node:fs';
import { benchArgs } from '../args.js';

export interface Probe { probe: string; step_ms: number; eval_row_s: number; setup_s: number; ewc_lambda: number; fisher_samples: number }

export function stepsThatFit(probes: Probe[], seconds: number, max: number, tasks = 4): number {
  let best = max;
  for (const p of probes) {
    const rows = p.probe === 'single' ? 2 : 1 + tasks;
    const fisher = p.ewc_lambda > 0 ? tasks * p.fisher_samples * p.step_ms / 1000 : 0;
    const fixed = p.setup_s + rows * p.eval_row_s + fisher + 15;
    const s = (seconds - fixed) / (tasks * 1.15 * p.step_ms / 1000);
    best = Math.min(best, s);
  }
  return Math.max(0, Math.floor(best / 10) * 10);
}

if (process.argv[1]?.endsWith('continual-steps.js')) {
  const { values, positionals } = benchArgs(import.meta.url, { options: { seconds: { type: 'string' }, max: { type: 'string', default: '800' } }, allowPositionals: true });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds: expected a positive number, got ${values.seconds}`);
  const probes: Probe[] = [];
  for (const f of positionals) {
    const text = readFileSync(f, 'utf8').trim().split('\n').at(-1) ?? '';
    try { probes.push(JSON.parse(text) as Probe); } catch { console.error(`${f}: no probe result (the probe failed; see its log)`); }
  }
  if (!probes.length) { console.error('no probe results'); console.log(0); process.exit(0); }
  for (const p of probes) console.error(`probe ${p.probe}: ${p.step_ms.toFixed(1)} ms/step, eval row ${p.eval_row_s.toFixed(1)} s, setup ${p.setup_s.toFixed(1)} s`);
  const n = stepsThatFit(probes, seconds, Number(values.max));
  console.error(`${seconds} s left: ${n} steps per task`);
  console.log(n);
}
