/**
 * Tuning knob from the environment (e.g. FFM_CONV_TP=8), unset in normal use; lets a new device
 * be autotuned without code changes. Browser-safe: no `process` there means no knob.
 */
export function knob(name: string): number | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return v ? Number(v) : undefined;
}
