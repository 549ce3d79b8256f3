/**
 * Dawn's native code writes adapter warnings straight to the process's stderr (file descriptor
 * 2), where JavaScript cannot intercept them. On lavapipe every adapter request prints
 *   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
 * which users read as an error. The CLI therefore runs its commands in a child process and
 * passes the child's stderr through this filter, which drops exactly those lines.
 */

/** The lines dropped: Dawn's limit-normalisation notices, nothing else. */
export const DAWN_NOISE = /^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

const PREFIX = 'Warning: ';

/**
 * A stateful filter for a byte stream of text: feed chunks in, get back what to print. Complete
 * lines matching DAWN_NOISE are dropped; a partial line is held back only while it could still
 * become one of them, so progress bars drawn with '\r' pass through at once.
 */
export function noiseFilter(): { push(chunk: string): string; end(): string } {
  let pending = '';
  const mayBeNoise = (s: string) => (s.length <= PREFIX.length ? PREFIX.startsWith(s) : s.startsWith(PREFIX));
  return {
    push(chunk: string): string {
      pending += chunk;
      let out = '';
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!DAWN_NOISE.test(line.replace(/\r$/, ''))) out += `${line}\n`;
      }
      if (pending && !mayBeNoise(pending)) {
        out += pending;
        pending = '';
      }
      return out;
    },
    end(): string {
      const rest = DAWN_NOISE.test(pending) ? '' : pending;
      pending = '';
      return rest;
    },
  };
}
