/**
 * Bad inputs and killed processes, as a user meets them, through the real command line (a child
 * process, as `npx fusionfm` runs). Each row of a table names the case, the exact message
 * expected, and the files that must be unchanged or absent afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage } from '../src/fusion/image.js';
import { decodeSafetensors } from '../src/nn/safetensors.js';
import { backward } from '../src/autograd/backward.js';
import { tensor } from '../src/autograd/create.js';
import { div, mul, sum } from '../src/autograd/ops.js';
import { AdamW } from '../src/nn/optim.js';
import { decodeImage, encodePng } from '../src/io/image.js';
import { noiseFilter } from '../src/cli/dawn-noise.js';
import { systemErrorMessage } from '../src/cli/system-error.js';
import { scope } from '../src/autograd/tensor.js';
import { gpu } from './helpers.js';

const ROOT = process.cwd();
const MAIN = join(ROOT, 'src/cli/main.ts');
// tsx by absolute URL: the children run in temp folders, where a bare 'tsx' does not resolve
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const cliArgs = (args: string[]) => ['--import', TSX, MAIN, ...args];
/** runs the CLI in `cwd` to the end */
const cli = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, cliArgs(args), { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });

let dir: string;
/** a synthetic grey plane with structure (so fusion and training have something to do) */
const plane = (w: number, h: number, k: number) => Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.4 * Math.sin((i % w) * (0.3 + 0.1 * k) + Math.floor(i / w) * 0.2 * k));
const png = (w: number, h: number, k: number, bitDepth = 8) => encodePng(makeImage(w, h, [plane(w, h, k)], bitDepth));

/** every file under a folder, with its bytes */
function snapshot(d: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    for (const f of readdirSync(p, { withFileTypes: true })) {
      const q = join(p, f.name);
      if (f.isDirectory()) walk(q);
      else out.set(q.slice(d.length + 1), readFileSync(q).toString('base64'));
    }
  };
  walk(d);
  return out;
}
const temps = (d: string) => [...snapshot(d).keys()].filter((f) => /(^|\/)\.[^/]+\.tmp$/.test(f));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fusionfm-robust-'));
  writeFileSync(join(dir, 'a.png'), png(40, 32, 1));
  writeFileSync(join(dir, 'b.png'), png(40, 32, 2));
  writeFileSync(join(dir, 'a16.png'), png(40, 32, 1, 16));
  writeFileSync(join(dir, 'b16.png'), png(40, 32, 2, 16));
  const good = readFileSync(join(dir, 'a.png'));
  writeFileSync(join(dir, 'truncated.png'), good.subarray(0, Math.floor(good.length * 0.6)));
  const crc = Buffer.from(good);
  crc[crc.length - 14] = crc[crc.length - 14]! ^ 0xff; // the checksum of the last data chunk (IEND's 12 bytes follow it)
  writeFileSync(join(dir, 'badcrc.png'), crc);
  writeFileSync(join(dir, 'notes.png'), 'these are notes, not an image\n');
  // RGBA with a translucent half
  const rgba = new PNG({ width: 40, height: 32 });
  for (let i = 0; i < 40 * 32; i++) rgba.data.set([200, 100, 50, i % 40 < 20 ? 255 : 90], i * 4);
  writeFileSync(join(dir, 'alpha.png'), PNG.sync.write(rgba));
  writeFileSync(join(dir, 'existing.png'), 'precious');
  writeFileSync(join(dir, 'afile'), 'a file, not a folder');
  mkdirSync(join(dir, 'adir'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  name: string;
  args: string[];
  status: number;
  /** the message, exactly (a substring of stderr or stdout) */
  says: string;
  unchanged?: string[];
  absent?: string[];
  /** an extra check of what was written */
  check?: () => void | Promise<void>;
}

describe('fusionfm fuse: bad inputs and outputs (no GPU needed: a classical fuser)', () => {
  const rows: Row[] = [
    { name: 'output in a missing folder: the folder is made', args: ['-o', 'new/sub/f.png'], status: 0, says: 'new/sub/f.png: 40x32 grey 8-bit PNG by average' },
    { name: 'output path ending in /', args: ['-o', 'out/'], status: 2, says: 'fusionfm: -o out/: names a folder; give a file path such as out/fused.png (a folder is for --data)', absent: ['out'] },
    { name: 'output is an existing folder, even with --overwrite', args: ['-o', 'adir', '--overwrite'], status: 2, says: 'fusionfm: -o adir: is a folder; give a file path such as adir/fused.png (a folder is for --data)', absent: ['adir/fused.png'] },
    { name: 'output exists without --overwrite', args: ['-o', 'existing.png'], status: 2, says: 'fusionfm: -o existing.png: output exists; pass --overwrite (or choose another path) to replace it', unchanged: ['existing.png'] },
    { name: 'output under a file', args: ['-o', 'afile/f.png'], status: 2, says: 'fusionfm: -o afile/f.png: afile is a file, not a folder', unchanged: ['afile'] },
    { name: 'an extension we do not write', args: ['-o', 'f.bmp'], status: 2, says: "fusionfm: -o f.bmp: '.bmp' is not a format fusionfm writes; name the file .png (8 or 16 bit) or .jpg/.jpeg (8 bit)", absent: ['f.bmp'] },
    {
      name: '.jpg output is JPEG', args: ['-o', 'f.jpg'], status: 0, says: 'f.jpg: 40x32 grey 8-bit JPEG by average',
      check: () => expect([...readFileSync(join(dir, 'f.jpg')).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]),
    },
    { name: 'a source that does not exist', args: ['-o', 'g.png'], status: 2, says: 'fusionfm: missing.png: image file not found', absent: ['g.png'] },
    { name: 'a truncated PNG', args: ['-o', 'h.png'], status: 2, says: 'fusionfm: truncated.png: cannot read this PNG: the file ends early (truncated, or not completely copied)', absent: ['h.png'] },
    { name: 'a PNG with a damaged chunk', args: ['-o', 'i.png'], status: 2, says: 'fusionfm: badcrc.png: cannot read this PNG: its data is damaged (a chunk does not decode, or its checksum does not match)', absent: ['i.png'] },
    { name: 'a text file named .png', args: ['-o', 'j.png'], status: 2, says: 'fusionfm: notes.png: unsupported image format (expected PNG or JPEG; the file starts with 74 68 65 73)', absent: ['j.png'] },
    {
      name: '16-bit sources give a 16-bit PNG', args: ['-o', 'k.png'], status: 0, says: 'k.png: 40x32 grey 16-bit PNG by average',
      check: async () => expect((await decodeImage(readFileSync(join(dir, 'k.png')), 'k.png')).bitDepth).toBe(16),
    },
    { name: '16-bit sources into JPEG: said', args: ['-o', 'l.jpg'], status: 0, says: 'fusionfm: note: l.jpg: written as 8-bit JPEG from 16-bit sources; name it .png to keep the depth' },
    { name: 'a translucent alpha channel: said', args: ['-o', 'm.png'], status: 0, says: 'fusionfm: note: alpha.png: its alpha channel (transparency) is not fused; m.png has none' },
  ];
  // the sources of each row (kept beside the rows so the table reads as the user's commands)
  const sources: Record<string, [string, string]> = {
    'a source that does not exist': ['missing.png', 'b.png'], 'a truncated PNG': ['truncated.png', 'b.png'],
    'a PNG with a damaged chunk': ['a.png', 'badcrc.png'], 'a text file named .png': ['notes.png', 'b.png'],
    '16-bit sources give a 16-bit PNG': ['a16.png', 'b16.png'], '16-bit sources into JPEG: said': ['a16.png', 'b16.png'],
    'a translucent alpha channel: said': ['alpha.png', 'b.png'],
  };
  it.each(rows)('$name', async (row) => {
    const before = new Map([...(row.unchanged ?? [])].map((f) => [f, readFileSync(join(dir, f), 'base64')]));
    const [a, b] = sources[row.name] ?? ['a.png', 'b.png'];
    const r = cli(dir, ['fuse', '--method', 'average', a, b, ...row.args]);
    expect(r.status, r.stderr).toBe(row.status);
    expect(r.stderr + r.stdout).toContain(row.says);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    for (const [f, bytes] of before) expect(readFileSync(join(dir, f), 'base64'), f).toBe(bytes);
    for (const f of row.absent ?? []) expect(existsSync(join(dir, f)), f).toBe(false);
    expect(temps(dir)).toEqual([]);
    await row.check?.();
  }, 60_000);

  it('a plain folder of pairs (a/, b/): no --split needed, every pair fused, time per image in the progress', () => {
    const pairs = join(dir, 'mine');
    for (const s of ['a', 'b']) mkdirSync(join(pairs, s), { recursive: true });
    for (const n of ['p1', 'p2']) {
      writeFileSync(join(pairs, 'a', `${n}.png`), png(24, 24, 1));
      writeFileSync(join(pairs, 'b', `${n}.png`), png(24, 24, 3));
    }
    const r = cli(dir, ['fuse', '--method', 'max', '--data', pairs, '-o', 'fused-mine']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`fusing 2 pairs of ${pairs} with max into fused-mine`);
    expect(readdirSync(join(dir, 'fused-mine')).sort()).toEqual(['p1.png', 'p2.png']);
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.item)).toEqual([expect.stringMatching(/^p1 \(24x24, \d+\.\d\d s\)$/), expect.stringMatching(/^p2 \(24x24, \d+\.\d\d s\)$/)]);
    expect(lines[0].values['s/image']).toBeGreaterThan(0);
    const split = cli(dir, ['fuse', '--method', 'max', '--data', pairs, '--split', 'test', '-o', 'fused-mine2']);
    expect(split.status).toBe(2);
    expect(split.stderr).toContain(`fusionfm: --split test: ${pairs} is not listed in splits.json, so it has no test split; leave --split out to fuse all its pairs`);
    const again = cli(dir, ['fuse', '--method', 'max', '--data', pairs, '-o', 'fused-mine']);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('fusionfm: -o fused-mine: 2 of the 2 outputs exist already (e.g. fused-mine/p1.png); pass --overwrite to replace them');
  }, 60_000);

  it('file-system errors become one line naming the path; other errors are left alone', () => {
    const e = Object.assign(new Error("ENOENT: no such file or directory, open 'x/y.png'"), { code: 'ENOENT', path: 'x/y.png', syscall: 'open' });
    expect(systemErrorMessage(e)).toBe('x/y.png: no such file or directory (open failed, ENOENT)');
    expect(systemErrorMessage(Object.assign(new Error('x'), { code: 'EACCES', path: '/root/a', syscall: 'mkdir' }))).toBe('/root/a: permission denied (mkdir failed, EACCES)');
    expect(systemErrorMessage(new Error('plain'))).toBeNull();
    expect(systemErrorMessage(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }))).toBeNull();
  });

  it('the stderr filter drops exactly Dawn\'s limit notices, and passes progress bars through at once', () => {
    const f = noiseFilter();
    const noise = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
    expect(f.push(noise.slice(0, 30))).toBe('');
    expect(f.push(noise.slice(30))).toBe('');
    expect(f.push('\rtrain [##..] 1/4')).toBe('\rtrain [##..] 1/4');
    expect(f.push('Warning: something else\n')).toBe('Warning: something else\n');
    expect(f.push('Warn')).toBe('');
    expect(f.end()).toBe('Warn');
  });
});

describe('fusionfm with a model: what it says (GPU)', () => {
  it('asks for the task of the task-conditioned bundled model, prints no Dawn warnings, names a DDPM checkpoint as the DDPM baseline, and infers the task from the data folder', async () => {
    await gpu();
    const none = cli(dir, ['fuse', 'a.png', 'b.png', '-o', 'no-task.png']);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/default\.safetensors: the model is task-conditioned on ivf, mif, mef, mff; name the task with --task/);
    expect(existsSync(join(dir, 'no-task.png'))).toBe(false);
    const fm = cli(dir, ['fuse', '--task', 'ivf', 'a.png', 'b.png', '-o', 'n.png']);
    expect(fm.status, fm.stderr).toBe(0);
    expect(fm.stdout).toMatch(/n\.png: 40x32 grey 8-bit PNG by FusionFM \(.*default\.safetensors, 1 euler step\)/);
    expect(fm.stdout + fm.stderr).not.toContain('artificially reduced');
    const ddpm = cli(dir, ['fuse', '--checkpoint', join(ROOT, 'checkpoints/baseline-ddpm.safetensors'), '--steps', '2', 'a.png', 'b.png', '-o', 'o.png']);
    expect(ddpm.status, ddpm.stderr).toBe(0);
    expect(ddpm.stdout).toContain('by the DDPM baseline (');
    expect(ddpm.stdout).toContain('DDIM, 2 steps)');
    expect(ddpm.stdout).not.toContain('FusionFM');
    // a folder under mff/ is fused as multi-focus: the ivf-only model of the training tests below would be refused; here the bundled model says which task it used
    const pairs = join(dir, 'mff', 'mine');
    for (const s of ['a', 'b']) mkdirSync(join(pairs, s), { recursive: true });
    writeFileSync(join(pairs, 'a', 'q.png'), png(24, 24, 1));
    writeFileSync(join(pairs, 'b', 'q.png'), png(24, 24, 2));
    const folder = cli(dir, ['fuse', '--data', pairs, '-o', 'fused-mff']);
    expect(folder.status, folder.stderr).toBe(0);
    expect(folder.stdout).toContain(`fusing 1 pair of ${pairs} (task mff) with FusionFM (`);
  }, 240_000);
});

describe('AdamW: a non-finite gradient stops the step in every configuration', () => {
  it.each([{ clip: undefined }, { clip: 1 }])('clipNorm $clip: an error naming the step; weights, moments and step count unchanged', async ({ clip }) => {
    await gpu();
    const p = tensor(Float32Array.from([1, 2, 3, 4]), [4]).keep();
    p.requiresGrad = true;
    const opt = new AdamW([p], { lr: 0.1, clipNorm: clip });
    // the gradient of sum(p * c) is c; 0/0 and 1/0 make a NaN or infinite one (tensor() refuses non-finite data)
    const stepWith = async (num: number[], den: number[]) => {
      p.grad?.dispose();
      p.grad = null;
      return scope(async () => {
        backward(sum(mul(p, div(tensor(Float32Array.from(num), [4]), tensor(Float32Array.from(den), [4])))));
        return opt.step();
      });
    };
    await stepWith([1, 1, 1, 1], [1, 1, 1, 1]);
    const w = await p.data();
    await expect(stepWith([1, 0, 1, 1], [1, 0, 1, 1])).rejects.toThrow('AdamW: gradient norm is NaN at step 2; refusing to update the weights');
    expect(opt.stepCount).toBe(1);
    expect(await p.data()).toEqual(w);
    await expect(stepWith([1, 1, 1, 1], [0, 1, 1, 1])).rejects.toThrow('AdamW: gradient norm is Infinity at step 2;');
    expect(await p.data()).toEqual(w);
    await stepWith([1, 1, 1, 1], [1, 1, 1, 1]);
    expect(opt.stepCount).toBe(2);
    expect(Array.from(await p.data()).every(Number.isFinite)).toBe(true);
  }, 60_000);
});

describe('fusionfm train: killed saves, a second run, stale files (GPU)', () => {
  let data: string;
  const trainArgs = (out: string, extra: string[] = []) => ['train', '--task', 'ivf', '--data', data, '--labels', join(data, 'labels'), '--out', out,
    '--steps', '6', '--batch', '2', '--crop', '16', '--width', '8', '--checkpoint-every', '2', '--seed', '3', ...extra];
  const weights = (run: string) => {
    const st = decodeSafetensors(readFileSync(join(run, 'model.safetensors')), 'model');
    return new Map([...st.tensors].map(([k, v]) => [k, Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64')]));
  };
  let reference: Map<string, string>;

  beforeAll(async () => {
    await gpu();
    data = join(dir, 'train-pairs');
    for (const s of ['a', 'b', 'labels']) mkdirSync(join(data, s), { recursive: true });
    for (const n of ['p1', 'p2']) {
      writeFileSync(join(data, 'a', `${n}.png`), png(32, 32, 1));
      writeFileSync(join(data, 'b', `${n}.png`), png(32, 32, 2));
      writeFileSync(join(data, 'labels', `${n}.png`), png(32, 32, 3));
    }
    const r = cli(dir, trainArgs('run-ref'));
    expect(r.status, r.stderr).toBe(0);
    reference = weights(join(dir, 'run-ref'));
  }, 300_000);

  // each kill lands just before the rename onto the named file at the step-4 save
  it.each([
    { at: 'state.safetensors:2', what: 'before the state of step 4 is in place' },
    { at: 'state.json:2', what: 'between the state and its readable copy (state.json still says step 2)' },
    { at: 'model.safetensors:2', what: 'before the model of step 4 is in place' },
    { at: 'loss.svg:2', what: 'before the loss plot of step 4 is in place' },
    { at: 'step-000004.png', what: 'before the sample image of step 4 is in place' },
  ])('killed $what: --resume ends with exactly the uninterrupted weights, and no temp file or lock stays', ({ at }) => {
    const run = `run-kill-${at.replace(/\W/g, '_')}`;
    const killed = cli(dir, trainArgs(run), { FUSIONFM_KILL_AT: at });
    expect(killed.status).not.toBe(0);
    expect(existsSync(join(dir, run, 'run.lock'))).toBe(true); // a SIGKILL leaves the lock behind
    expect(temps(join(dir, run)).length).toBeGreaterThan(0);
    const resumed = cli(dir, trainArgs(run, ['--resume']));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('removed the stale lock of a run that is gone');
    expect(resumed.stderr).toMatch(/removed \d+ temp file\(s\) of an interrupted save/);
    expect(weights(join(dir, run))).toEqual(reference);
    expect(temps(join(dir, run))).toEqual([]);
    expect(existsSync(join(dir, run, 'run.lock'))).toBe(false);
  }, 300_000);

  it('a second run into a live run\'s directory is refused; the first, stopped with SIGTERM, releases its lock', async () => {
    const out = 'run-live';
    const first = spawn(process.execPath, cliArgs(trainArgs(out, ['--steps', '400'])), { cwd: dir, env: { ...process.env, FUSIONFM_CLI_CHILD: '1' } });
    let firstErr = '';
    first.stderr.on('data', (c) => (firstErr += c));
    const lock = join(dir, out, 'run.lock');
    for (let i = 0; i < 600 && !firstErr.includes('"task":"train"'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(lock), firstErr).toBe(true);
    const pid = JSON.parse(readFileSync(lock, 'utf8')).pid;
    const second = cli(dir, trainArgs(out, ['--resume']));
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`another fusionfm train (pid ${pid}, started `);
    expect(second.stderr).toContain('is using this run directory; wait for it to finish, stop it, or choose another --out');
    const code = await new Promise<number | null>((res) => {
      first.on('exit', (c) => res(c));
      first.kill('SIGTERM');
    });
    expect(code).toBe(143);
    expect(existsSync(lock)).toBe(false);
  }, 300_000);

  it('--init starts from a model file (at a learning rate of 1e-12 the run ends on its weights, and names it in its provenance); a model of another net is refused, naming what differs', () => {
    const ref = join(dir, 'run-ref', 'model.safetensors');
    const r = cli(dir, trainArgs('run-init', ['--steps', '2', '--lr', '1e-12', '--init', ref]));
    expect(r.status, r.stderr).toBe(0);
    const floats = (f: string) => decodeSafetensors(readFileSync(f), f);
    const before = floats(ref), after = floats(join(dir, 'run-init', 'model.safetensors'));
    expect([...after.tensors.keys()].sort()).toEqual([...before.tensors.keys()].sort());
    for (const [k, t] of before.tensors) {
      const u = after.tensors.get(k)!.data;
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(u[i]! - t.data[i]!), k).toBeLessThan(1e-6 + 1e-6 * Math.abs(t.data[i]!));
    }
    expect(JSON.parse(after.metadata.provenance!).init).toBe(ref);
    const wider = cli(dir, trainArgs('run-init-wide', ['--steps', '2', '--width', '16', '--init', ref]));
    expect(wider.status).toBe(2);
    expect(wider.stderr).toContain(`--init ${ref}: the model was trained as net {"baseChannels":8,`);
    expect(wider.stderr).toContain('this run asks for net {"baseChannels":16,');
    expect(existsSync(join(dir, 'run-init-wide', 'state.safetensors'))).toBe(false);
  }, 300_000);

  it('a state from before the one-file format is not resumed, with the reason', () => {
    const run = join(dir, 'run-old');
    mkdirSync(run);
    writeFileSync(join(run, 'state.safetensors'), readFileSync(join(dir, 'run-ref', 'model.safetensors')));
    const r = cli(dir, trainArgs('run-old', ['--resume']));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('written before the training state became one file; its step cannot be checked against state.json, so it is not resumed');
  }, 120_000);
});
