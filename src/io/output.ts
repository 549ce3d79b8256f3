/**
 * Output paths checked before any work is done: a fusion can take minutes, and finding out
 * afterwards that its result cannot be written loses all of it.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { InputError } from '../util/errors.js';
import { outputFormat } from './image.js';

/** The nearest existing ancestor of a path (itself when it exists). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

/**
 * Checks that `path` can take an image file: not a folder, a known extension, not an existing
 * file unless `overwrite`, its folder creatable and writable. Creates missing parent folders.
 * `arg` names the option in messages (e.g. '-o').
 */
export function prepareOutputFile(path: string, opts: { overwrite: boolean; arg: string }): 'PNG' | 'JPEG' {
  const { arg } = opts;
  if (path.endsWith('/') || path.endsWith(sep)) throw new InputError(`${arg} ${path}: names a folder; give a file path such as ${path}fused.png (a folder is for --data)`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError(`${arg} ${path}: is a folder; give a file path such as ${path}/fused.png (a folder is for --data)`);
  const format = outputFormat(path, arg);
  if (existsSync(path) && !opts.overwrite) throw new InputError(`${arg} ${path}: output exists; pass --overwrite (or choose another path) to replace it`);
  prepareOutputDir(dirname(path), arg, path);
  return format;
}

/** Makes sure `dir` is (or can become) a writable folder, creating it when missing. */
export function prepareOutputDir(dir: string, arg: string, named = dir): void {
  const base = existingAncestor(dir);
  if (!statSync(base).isDirectory()) throw new InputError(`${arg} ${named}: ${base} is a file, not a folder`);
  try {
    accessSync(base, constants.W_OK);
  } catch {
    throw new InputError(`${arg} ${named}: ${base} is not writable`);
  }
  mkdirSync(dir, { recursive: true });
}
