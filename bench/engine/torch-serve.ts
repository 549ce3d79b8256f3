/**
 * PyTorch's side of bench:torch, as a process that stays up (torch_unet.py --serve): it checks its
 * output and first two training losses, exports ONNX, prints that as one JSON line, then times one
 * forward or training step per request. So PyTorch's rounds interleave with ours, and a machine
 * whose speed drifts from minute to minute slows both alike (run one after the other, PyTorch's
 * own times moved 1.9x between two runs of the bench).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { interleaved, summarize, type Timing } from './timing.js';

// Debian's python3 (where scripts/setup-torch-peer.sh installs torch) over a pyenv or venv one first on PATH
const python = (): string => process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

export class TorchPeer {
  /** what torch_unet.py printed first: its output check, the first training losses, its device */
  check: Record<string, any> = {};
  private stderr = '';
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    proc.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
  }

  /** Starts torch_unet.py on the files in dir (see bench/engine/torch-peer.ts) and waits for its check. */
  static async start(dir: string, onnx: string): Promise<TorchPeer> {
    const peer = new TorchPeer(spawn(python(), ['bench/engine/torch_unet.py', dir, '--rounds', '1', '--onnx', onnx, '--serve']));
    for (;;) {
      const line = await peer.nextLine('its check of the output');
      if (line.startsWith('{')) {
        peer.check = JSON.parse(line);
        return peer;
      }
    }
  }

  private async nextLine(what: string): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${python()} bench/engine/torch_unet.py ended before ${what} (does it have torch? PYTHON= picks another python3):\n${this.stderr}`);
    return r.value;
  }

  /** Milliseconds of one forward or training step, as PyTorch timed it (the pipe left out). */
  async time(cmd: 'forward' | 'train'): Promise<number> {
    this.proc.stdin.write(`${cmd}\n`);
    for (;;) {
      const line = await this.nextLine(`answering '${cmd}'`);
      if (line.startsWith('@peer ')) return JSON.parse(line.slice(6)).ms as number;
    }
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/** Ours and PyTorch's, alternating round by round after one warm-up each. */
export async function againstPeer(peer: TorchPeer, cmd: 'forward' | 'train', rounds: number, ours: () => Promise<void>): Promise<{ ours: Timing; theirs: Timing }> {
  const theirs: number[] = [];
  const timed = await interleaved({ ours, pytorch: async () => { theirs.push(await peer.time(cmd)); } }, { warmup: 1, rounds });
  return { ours: timed.ours!, theirs: summarize(theirs.slice(1)) };
}
