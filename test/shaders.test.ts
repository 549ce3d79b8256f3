import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('bundled WGSL', () => {
  it('src/kernels/wgsl.generated.ts is up to date with shaders/*.wgsl', () => {
    const r = spawnSync(process.execPath, ['scripts/gen-shaders.mjs', '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
