/** Node's file-system errors (ENOENT, EACCES, ...) in words, naming the path, instead of a stack trace. */

const WHAT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'is a directory, a file was expected',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  EDQUOT: 'disk quota exceeded',
};

/** A one-line message for a Node system error that names a path, or null for anything else. */
export function systemErrorMessage(e: unknown): string | null {
  const err = e as { code?: unknown; path?: unknown; syscall?: unknown; dest?: unknown };
  if (typeof err?.code !== 'string' || typeof err.path !== 'string' || !(err.code in WHAT)) return null;
  const target = typeof err.dest === 'string' ? `${err.path} -> ${err.dest}` : err.path;
  return `${target}: ${WHAT[err.code]} (${err.syscall ?? 'file operation'} failed, ${err.code})`;
}
