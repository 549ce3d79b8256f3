/** Checkpoint files: safetensors written atomically (temp file, fsync, rename). */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type DecodedSafetensors, type HostTensor } from '../nn/safetensors.js';
import { InputError } from '../util/errors.js';

/**
 * Writes bytes so that `path` is either the old file or the complete new one, never a
 * partial write: an interrupted save leaves the last good checkpoint in place.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function saveSafetensors(path: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(path: string): DecodedSafetensors {
  if (!existsSync(path)) throw new InputError(`${path}: checkpoint file not found`);
  return decodeSafetensors(new Uint8Array(readFileSync(path)), path);
}
