/**
 * Command-line options of a bench script: node's parseArgs, plus --help (prints the script's
 * header comment, which gives its usage) and a one-line error naming the script for an unknown
 * or malformed option, instead of a stack trace.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function benchArgs<T extends ParseArgsConfig>(scriptUrl: string, config: T): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage(scriptUrl));
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (e) {
    console.error(`${basename(fileURLToPath(scriptUrl))}: ${(e as Error).message} (--help shows the usage)`);
    process.exit(2);
  }
}

/** The script's first doc comment, without its comment markers. */
function usage(scriptUrl: string): string {
  const m = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(scriptUrl), 'utf8'));
  if (!m) return `${basename(fileURLToPath(scriptUrl))}: no usage text\n`;
  return `${m[1]!.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim()}\n`;
}
