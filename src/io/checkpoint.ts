/** Checkpoint files: safetensors written atomically (temp file, fsync, rename). */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type DecodedSafetensors, type HostTensor } from '../nn/safetensors.js';
import { InputError } from '../util/errors.js';

/**
 * Writes bytes so that `path` is either the old file or the complete new one, never a
 * partial write: an interrupted save leaves the last good checkpoint in place.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = tempPathOf(path);
  const fd = openSync(tmp, 'w');
  try {
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    beforeRename?.(path);
    renameSync(tmp, path);
  } catch (e) {
    // a failed write or rename leaves neither a half file nor a stray temp file
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The temp file a save of `path` by this process goes through (what removeStaleTemps finds). */
export function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

const TEMP = /^\..+\.\d+\.tmp$/;

/**
 * Removes temp files that killed saves left in a folder (only the owner of the folder, e.g. the
 * holder of a run's lock, may call this: a live writer's temp file would go too). Returns their names.
 */
export function removeStaleTemps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const gone = readdirSync(dir).filter((f) => TEMP.test(f));
  for (const f of gone) rmSync(join(dir, f), { force: true });
  return gone;
}

/**
 * Test hook: FUSIONFM_KILL_AT=<file name>[:<n>] kills this process (SIGKILL, as a power cut or
 * the OOM killer would) just before the n-th rename onto that file (default the first), so tests
 * can check that every interruption leaves a state that resumes exactly.
 */
const killAt = (() => {
  const spec = process.env.FUSIONFM_KILL_AT;
  if (!spec) return null;
  const [file, n] = spec.split(':');
  return { file: file!, n: Number(n ?? 1), seen: 0 };
})();
const beforeRename = killAt && ((path: string) => {
  if (basename(path) !== killAt.file || ++killAt.seen < killAt.n) return;
  process.kill(process.pid, 'SIGKILL');
});

export function saveSafetensors(path: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(path: string): DecodedSafetensors {
  if (!existsSync(path)) throw new InputError(`${path}: checkpoint file not found`);
  return decodeSafetensors(new Uint8Array(readFileSync(path)), path);
}
