/** What every benchmark record carries: the commit it was measured at and a file-name slug of the adapter. */
import { execSync } from 'node:child_process';
import type { AdapterDescription } from '../gpu/runtime.js';

/** The short commit hash of the working directory (+changes when tracked files differ from it), or 'unknown' outside a git checkout. */
export function gitCommit(): string {
  // a copy of the tree on another machine (bench/gpu) may carry a stale .git: the bundle names its commit
  const given = process.env.FUSIONFM_COMMIT;
  if (given) return given;
  try {
    const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // a figure measured with uncommitted changes to tracked files says so
    const dirty = execSync('git status --porcelain --untracked-files=no', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The adapter's device (or full) name, lower-case, for result file names. */
export function adapterSlug(adapter: AdapterDescription): string {
  return (adapter.device || adapter.name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
}
