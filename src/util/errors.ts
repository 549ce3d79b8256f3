/** Typed errors so callers (and tests) can tell an argument problem from a device problem. */

/** A shape, dtype or argument that an op cannot accept. The message names the op and the shapes. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** A request beyond what the device allows (binding size, workgroup count), with the numbers. */
export class LimitError extends Error {
  override name = 'LimitError';
}

/** No adapter, lost device, or a shader that failed to compile. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/** A file or argument given by the user that is not what was expected. */
export class InputError extends Error {
  override name = 'InputError';
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
