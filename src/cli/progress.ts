/** Renders progress: a bar with rate and ETA on a terminal, JSON lines otherwise (stderr). */
import type { ProgressEvent, ProgressSink } from '../util/progress.js';

/** Whether a stream is a terminal; for stderr, also when the launcher (main.ts) says its own stderr is one. */
function terminal(stream: NodeJS.WriteStream): { tty: boolean; columns: number } {
  if (stream.isTTY) return { tty: true, columns: stream.columns ?? 120 };
  if (stream === process.stderr && process.env.FUSIONFM_STDERR_TTY === '1') return { tty: true, columns: Number(process.env.FUSIONFM_STDERR_COLUMNS) || 120 };
  return { tty: false, columns: 120 };
}

/**
 * Rate and ETA count only the work this process did: a resumed run's first event says done = 1401,
 * and dividing that by seconds since start promised the remaining hours in two minutes. Each task
 * is timed from the event before its first one, with that first event counting as one unit.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, now: () => number = () => performance.now()): ProgressSink {
  const start = now();
  const { tty, columns } = terminal(stream);
  let lastDraw = 0;
  let lastEvent = start;
  const since = new Map<string, { done: number; t: number }>();
  return (e: ProgressEvent) => {
    const t = now();
    let base = since.get(e.task);
    if (!base) since.set(e.task, (base = { done: Math.max(0, e.done - 1), t: lastEvent }));
    lastEvent = t;
    const elapsed = (t - start) / 1000;
    const rate = (e.done - base.done) / Math.max((t - base.t) / 1000, 1e-9);
    const eta = rate > 0 ? (e.total - e.done) / rate : NaN;
    if (!tty) {
      stream.write(JSON.stringify({ ...e, elapsed_s: Number(elapsed.toFixed(2)), eta_s: Number.isFinite(eta) ? Number(eta.toFixed(1)) : null }) + '\n');
      return;
    }
    if (t - lastDraw < 100 && e.done < e.total) return;
    lastDraw = t;
    const width = 28;
    const fill = Math.round((width * e.done) / Math.max(1, e.total));
    const vals = e.values ? Object.entries(e.values).map(([k, v]) => ` ${k} ${v.toPrecision(4)}`).join('') : '';
    const line = `${e.task} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${e.done}/${e.total} ${rate.toFixed(2)} it/s ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'}${vals}${e.item ? ` ${e.item}` : ''}`;
    stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns, 120) - 1)}`);
    if (e.done >= e.total) stream.write('\n');
  };
}
