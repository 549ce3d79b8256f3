import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { benchProvenance, writeBenchReport } from '../bench/engine/report.js';

describe('engine bench reports', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('write the provenance header and the body, making the folder, with no temp file left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    dirs.push(dir);
    const out = join(dir, 'nested', 'probe.json');
    const provenance = benchProvenance('probe', 'test adapter');
    writeBenchReport(out, provenance, { records: [{ case: 'a', median_ms: 1.5 }] });
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.bench).toBe('probe');
    expect(json.adapter).toBe('test adapter');
    expect(json.commit).toBe(provenance.commit);
    expect(json.host.cores).toBeGreaterThan(0);
    expect(json.command).toMatch(/^node \S+/);
    expect(json.records).toEqual([{ case: 'a', median_ms: 1.5 }]);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['probe.json']);
  });

  it('keep the commit read when the run started, not when the file is written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    dirs.push(dir);
    const previous = process.env.FUSIONFM_COMMIT;
    process.env.FUSIONFM_COMMIT = 'abc1234';
    try {
      const provenance = benchProvenance('probe', 'test adapter');
      process.env.FUSIONFM_COMMIT = 'def5678';
      writeBenchReport(join(dir, 'p.json'), provenance, { records: [] });
      expect(JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')).commit).toBe('abc1234');
    } finally {
      if (previous === undefined) delete process.env.FUSIONFM_COMMIT;
      else process.env.FUSIONFM_COMMIT = previous;
    }
  });
});
