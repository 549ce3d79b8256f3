import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// the CLI's argument handling, in a child process as a user runs it (no GPU needed: every case
// here ends before a device is opened)
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('fusionfm command line', () => {
  it('prints the usage of every command for --help and of one command for `<cmd> --help` or `help <cmd>`, and succeeds', () => {
    const all = cli('--help');
    expect(all.status).toBe(0);
    for (const c of ['eval', 'fuse', 'train', 'pseudo-gt', 'demo', 'bench', 'metrics']) expect(all.stdout).toContain(`fusionfm ${c}`);
    for (const r of [cli('train', '--help'), cli('help', 'train'), cli('train', '-h')]) {
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('fusionfm train --tasks');
      expect(r.stdout).not.toContain('fusionfm eval');
    }
  });

  it('answers an unknown option or a missing value with the command, the option and its usage, exit code 2, no stack trace', () => {
    const unknown = cli('fuse', '--bogus', 'x');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("fusionfm fuse: Unknown option '--bogus'");
    expect(unknown.stderr).toContain('fusionfm fuse --method');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    const missing = cli('train', '--steps');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("fusionfm train: Option '--steps <value>' argument missing");
    const margin = cli('train', '--task', 'ivf', '--labels', 'classical:gff', '--out', 'unused', '--crop', '16', '--loss-margin', '8');
    expect(margin.status).toBe(2);
    expect(margin.stderr).toContain("fusionfm: --loss-margin must be a whole number of pixels below half the crop (16), got '8'");
    const gate = cli('train', '--task', 'ivf', '--labels', 'classical:gff', '--out', 'unused', '--source-gate', '300');
    expect(gate.status).toBe(2);
    expect(gate.stderr).toContain('fusionfm: --source-gate: the source gate must be between 0 and 255 grey levels, got 300');
    const fromNoise = cli('train', '--task', 'ivf', '--labels', 'classical:gff', '--out', 'unused', '--source-gate', '2', '--coupling', 'gaussian');
    expect(fromNoise.status).toBe(2);
    expect(fromNoise.stderr).toContain('--source-gate: a source gate keeps black black only on a flow that starts at the sources');
    const swapOther = cli('train', '--tasks', 'ivf,mff', '--labels', 'classical:gff', '--out', 'unused', '--swap-sources', 'mef');
    expect(swapOther.status).toBe(2);
    expect(swapOther.stderr).toContain("fusionfm: --swap-sources: 'mef' is not a task of this run (ivf, mff)");
    const swapJoint = cli('train', '--task', 'mef,mff', '--labels', 'classical:gff', '--out', 'unused', '--swap-sources', 'mff');
    expect(swapJoint.status).toBe(2);
    expect(swapJoint.stderr).toContain('--swap-sources applies to one --task or to --tasks trained in sequence');
    const weightsSeq = cli('train', '--tasks', 'ivf,mff', '--labels', 'classical:gff', '--out', 'unused', '--task-weights', 'mff=2');
    expect(weightsSeq.status).toBe(2);
    expect(weightsSeq.stderr).toContain('--task-weights applies to several tasks trained jointly');
    const weightsBad = cli('train', '--task', 'ivf,mff', '--labels', 'classical:gff', '--out', 'unused', '--task-weights', 'mff=-1');
    expect(weightsBad.status).toBe(2);
    expect(weightsBad.stderr).toContain("--task-weights: expected task=weight pairs with positive weights such as mff=2,ivf=1.5, got 'mff=-1'");
    const weightsOther = cli('train', '--task', 'ivf,mff', '--labels', 'classical:gff', '--out', 'unused', '--task-weights', 'mef=2');
    expect(weightsOther.stderr).toContain("--task-weights: 'mef' is not a task of this run (ivf, mff)");
    const holdOut = cli('train', '--task', 'ivf', '--labels', 'classical:gff', '--out', 'unused', '--hold-out', '1.5');
    expect(holdOut.status).toBe(2);
    expect(holdOut.stderr).toContain("--hold-out must be a whole number of pairs per dataset, got '1.5'");
    const command = cli('fusee');
    expect(command.status).toBe(2);
    expect(command.stderr).toContain("unknown command 'fusee'");
  });
});
