import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// the CLI's argument handling, in a child process as a user runs it (no GPU needed: every case
// here ends before a device is opened)
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

/** The command exits with code 2 and its stderr names the problem. */
const refused = (message: string, ...args: string[]) => {
  const r = cli(...args);
  expect(r.status, args.join(' ')).toBe(2);
  expect(r.stderr).toContain(message);
};
/** what train needs besides the option under test (it refuses before reading either) */
const LABELS_OUT = ['--labels', 'classical:gff', '--out', 'unused'];

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
    refused("fusionfm train: Option '--steps <value>' argument missing", 'train', '--steps');
    refused("fusionfm: --loss-margin must be a whole number of pixels below half the crop (16), got '8'", 'train', '--task', 'ivf', ...LABELS_OUT, '--crop', '16', '--loss-margin', '8');
    refused('fusionfm: --source-gate: the source gate must be between 0 and 255 grey levels, got 300', 'train', '--task', 'ivf', ...LABELS_OUT, '--source-gate', '300');
    refused('--source-gate: a source gate keeps black black only on a flow that starts at the sources', 'train', '--task', 'ivf', ...LABELS_OUT, '--source-gate', '2', '--coupling', 'gaussian');
    refused("fusionfm: --swap-sources: 'mef' is not a task of this run (ivf, mff)", 'train', '--tasks', 'ivf,mff', ...LABELS_OUT, '--swap-sources', 'mef');
    refused('--swap-sources applies to one --task or to --tasks trained in sequence', 'train', '--task', 'mef,mff', ...LABELS_OUT, '--swap-sources', 'mff');
    refused('--task-weights applies to several tasks trained jointly', 'train', '--tasks', 'ivf,mff', ...LABELS_OUT, '--task-weights', 'mff=2');
    refused("--task-weights: expected task=weight pairs with positive weights such as mff=2,ivf=1.5, got 'mff=-1'", 'train', '--task', 'ivf,mff', ...LABELS_OUT, '--task-weights', 'mff=-1');
    refused("--task-weights: 'mef' is not a task of this run (ivf, mff)", 'train', '--task', 'ivf,mff', ...LABELS_OUT, '--task-weights', 'mef=2');
    refused("--choice-loss trains the blend head's choice between the sources: it needs --head blend", 'train', '--task', 'ivf,mff', ...LABELS_OUT, '--choice-loss', 'ivf=1');
    refused("--choice-loss: 'mef' is not a task of this run (ivf, mff)", 'train', '--task', 'ivf,mff', ...LABELS_OUT, '--head', 'blend', '--choice-loss', 'mef=1');
    refused("--mixed-crop: expected <side>x<batch> such as 128x1, got '128'", 'train', '--task', 'ivf', ...LABELS_OUT, '--mixed-crop', '128');
    refused("--mixed-every must be a whole number of steps, at least 2, got '1'", 'train', '--task', 'ivf', ...LABELS_OUT, '--mixed-crop', '128x1', '--mixed-every', '1');
    refused('--mixed-every applies with --mixed-crop', 'train', '--task', 'ivf', ...LABELS_OUT, '--mixed-every', '3');
    refused("fusionfm: --loss-margin must be a whole number of pixels below half the crop (16), got '8'", 'train', '--task', 'ivf', ...LABELS_OUT, '--crop', '64', '--mixed-crop', '16x4', '--loss-margin', '8');
    refused("--hold-out must be a whole number of pairs per dataset, got '1.5'", 'train', '--task', 'ivf', ...LABELS_OUT, '--hold-out', '1.5');
    refused("--own-path is a fraction of each batch, from 0 to 1, got '1.5'", 'train', '--task', 'ivf', ...LABELS_OUT, '--own-path', '1.5');
    refused('--own-path applies to flow matching, not to --objective ddpm', 'train', '--task', 'ivf', ...LABELS_OUT, '--objective', 'ddpm', '--own-path', '0.5');
    refused("--tiles must be auto, portable, device or whole, got 'none'", 'fuse', '--tiles', 'none', 'a.png', 'b.png', '-o', 'x.png');
    refused('--tiles applies to a model (FusionFM or the DDPM baseline), not to --method', 'fuse', '--method', 'gff', '--tiles', 'whole', 'a.png', 'b.png', '-o', 'x.png');
    refused("--attention-window must be a positive whole number of tokens or 'whole', got '0'", 'fuse', '--attention-window', '0', 'a.png', 'b.png', '-o', 'x.png');
    refused("--attention-window must be a positive whole number of tokens or 'whole', got '16.5'", 'fuse', '--attention-window', '16.5', 'a.png', 'b.png', '-o', 'x.png');
    refused('--attention-window applies to a model (FusionFM or the DDPM baseline), not to --method', 'fuse', '--method', 'gff', '--attention-window', '16', 'a.png', 'b.png', '-o', 'x.png');
    refused("--norm-window must be a positive whole number of pixels or 'whole', got '-64'", 'fuse', '--norm-window=-64', 'a.png', 'b.png', '-o', 'x.png');
    refused('--norm-window applies to a model (FusionFM or the DDPM baseline), not to --method', 'fuse', '--method', 'gff', '--norm-window', '64', 'a.png', 'b.png', '-o', 'x.png');
    refused("unknown command 'fusee'", 'fusee');
  });
});
