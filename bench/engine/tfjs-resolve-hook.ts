/**
 * A Node module-resolution hook for TF.js's gradient registrations (bench only). tfjs-core's
 * Node build registers no gradients (the union package @tensorflow/tfjs does, with layers,
 * converter and data we do not need); its ESM files that do use extensionless and directory
 * imports, which Node's ESM resolver refuses. This retries those, inside tfjs-core only, with
 * '.js' and '/index.js'. The registrations land in TF.js's global registry, shared with the
 * Node build.
 */
interface Context { parentURL?: string }
type Next = (specifier: string, context: Context) => Promise<unknown>;

export async function resolve(specifier: string, context: Context, next: Next): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const inCore = context.parentURL?.includes('/@tensorflow/tfjs-core/dist/');
    if (!inCore || !specifier.startsWith('.') || (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_UNSUPPORTED_DIR_IMPORT')) throw e;
    try {
      return await next(`${specifier}.js`, context);
    } catch {
      return next(`${specifier}/index.js`, context);
    }
  }
}
