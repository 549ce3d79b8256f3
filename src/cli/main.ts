#!/usr/bin/env node
/**
 * The fusionfm executable. The commands (commands.ts) run in a child process whose stderr passes
 * through noiseFilter (dawn-noise.ts): Dawn prints adapter warnings from native code that no
 * JavaScript hook can catch. FUSIONFM_DAWN_LOG=1 runs the commands in this process, warnings and all.
 * The child gets this process's stdin, stdout and arguments; its exit code or signal becomes ours.
 */
import { spawn } from 'node:child_process';
import { noiseFilter } from './dawn-noise.js';

const CHILD = 'FUSIONFM_CLI_CHILD';

if (process.env[CHILD] === '1' || process.env.FUSIONFM_DAWN_LOG === '1') {
  await import('./commands.js');
} else {
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD]: '1' };
  // the child's stderr is a pipe: tell it what the real one is, so progress bars still draw
  if (process.stderr.isTTY) {
    env.FUSIONFM_STDERR_TTY = '1';
    env.FUSIONFM_STDERR_COLUMNS = String(process.stderr.columns ?? 120);
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { env, stdio: ['inherit', 'inherit', 'pipe'] });
  const filter = noiseFilter();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => process.stderr.write(filter.push(s)));
  // Ctrl-C reaches the whole process group: the child handles it; termination requests are passed on
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    process.stderr.write(`fusionfm: could not start ${process.execPath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    process.stderr.write(filter.end());
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
