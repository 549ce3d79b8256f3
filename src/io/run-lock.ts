/**
 * One training run per run directory: a lock file (run.lock: pid, host, start time) created
 * exclusively. A second run into the same directory is refused while the first lives; a lock
 * whose process is gone (killed, machine restarted) is stale and taken over, so a killed run
 * never blocks its own --resume.
 */
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
  // a recycled pid that is not a node process is not our run
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline)) return readFileSync(cmdline, 'utf8').includes('node');
  return true;
}

function readLock(path: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return Number.isInteger(info.pid) ? info : null;
  } catch {
    return null; // unreadable or half-written by a killed process: stale
  }
}

/** Takes the run directory's lock or throws naming the run that holds it; returns the release function. */
export function acquireRunLock(dir: string, log: (msg: string) => void = () => {}): () => void {
  const path = join(dir, 'run.lock');
  const mine: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(mine), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || attempt > 0) throw e;
      const held = readLock(path);
      if (held && held.host !== mine.host) throw new InputError(`${dir}: run.lock says a run on host ${held.host} (pid ${held.pid}, started ${held.started}) uses this directory; if that run is gone, delete ${path}`);
      if (held && alive(held.pid)) throw new InputError(`${dir}: another fusionfm train (pid ${held.pid}, started ${held.started}) is using this run directory; wait for it to finish, stop it, or choose another --out`);
      log(`${path}: removed the stale lock of a run that is gone (${held ? `pid ${held.pid}, started ${held.started}` : 'unreadable'})`);
      rmSync(path, { force: true });
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  process.once('exit', release);
  // Ctrl-C and kill: release, then end as the signal would have
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      release();
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
    });
  }
  return release;
}
