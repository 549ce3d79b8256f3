/**
 * The JSON file every engine benchmark writes: its records under one provenance header
 * (bench, adapter, commit, host CPU, command), written whole or not at all.
 */
import { mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { writeFileAtomic } from '../../src/io/checkpoint.js';
import { gitCommit, hostCpu, type HostCpu } from '../../src/io/provenance.js';

export interface BenchProvenance {
  bench: string;
  adapter: string;
  commit: string;
  host: HostCpu;
  command: string;
}

/**
 * Call when the run starts, before anything is measured: the commit is the build being measured.
 * (Read at the end, a commit made while a long bench ran would be named for figures of the build before it.)
 */
export function benchProvenance(bench: string, adapter: string): BenchProvenance {
  const script = process.argv[1] ? relative(process.cwd(), process.argv[1]) : `dist/bench/engine/${bench}.js`;
  return { bench, adapter, commit: gitCommit(), host: hostCpu(), command: `node ${script} ${process.argv.slice(2).join(' ')}`.trim() };
}

/** Writes {provenance, ...body} to `path` (its folder made as needed) atomically: an interrupted run leaves the previous file. */
export function writeBenchReport(path: string, provenance: BenchProvenance, body: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify({ ...provenance, ...body }, null, 1) + '\n'));
  console.log(`wrote ${path}`);
}
