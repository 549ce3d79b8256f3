import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../src/cli/progress.js';

/** A non-terminal stream that keeps the JSON lines the printer writes. */
function jsonSink(): { stream: NodeJS.WriteStream; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = { isTTY: false, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => out.join('').trim().split('\n').map((l) => JSON.parse(l)) };
}

describe('progress printer', () => {
  it('a fresh run: ETA from steps done over seconds elapsed', () => {
    const { stream, lines } = jsonSink();
    let t = 0;
    const print = progressPrinter(stream, () => t);
    for (let done = 1; done <= 4; done++) { t += 2000; print({ task: 'train', done, total: 10 }); }
    const last = lines().at(-1)!;
    expect(last.elapsed_s).toBe(8);
    expect(last.eta_s).toBe(12); // 6 steps left at 2 s each
  });

  it('a resumed run: ETA counts only the steps this process did, not the ones it resumed from', () => {
    const { stream, lines } = jsonSink();
    let t = 0;
    const print = progressPrinter(stream, () => t);
    for (let done = 1401; done <= 1410; done++) { t += 1000; print({ task: 'train', done, total: 6400 }); }
    expect(lines().at(-1)!.eta_s).toBe(4990); // 1 s per step, 4,990 left (it said 35 s before)
  });

  it('a second task is timed from where the first one ended', () => {
    const { stream, lines } = jsonSink();
    let t = 0;
    const print = progressPrinter(stream, () => t);
    for (let done = 1; done <= 5; done++) { t += 10_000; print({ task: 'quality', done, total: 8 }); }
    for (let done = 6; done <= 7; done++) { t += 1000; print({ task: 'timing', done, total: 8 }); }
    expect(lines().at(-1)!.eta_s).toBe(1); // timing runs at 1 s per item, whatever quality took
  });
});
