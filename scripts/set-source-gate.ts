/**
 * A copy of a FusionFM model file with a source gate (VelocityConfig.sourceGate): the same
 * weights, and a velocity that fades out where both sources are black, so that the fused image
 * stays black there. For a model trained without the gate, whose output drifts off black in
 * backgrounds (the U-Net's GroupNorm statistics of the view); its output elsewhere (source sum at
 * or above the gate) is unchanged. The provenance records that the gate was set after training.
 *
 *   node dist/scripts/set-source-gate.js <in.safetensors> <out.safetensors> [--levels 2]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadSafetensors, saveSafetensors } from '../src/io/checkpoint.js';
import { FLOW_FORMAT } from '../src/io/flow-checkpoint.js';
import { checkGateApplies, checkSourceGate } from '../src/fusion/flow/model.js';
import { InputError } from '../src/util/errors.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { levels: { type: 'string', default: '2' } } });
const [input, output] = positionals;
if (!input || !output || positionals.length !== 2) throw new InputError('usage: set-source-gate <in.safetensors> <out.safetensors> [--levels 2]');
if (existsSync(output)) throw new InputError(`${output}: already exists; not overwritten`);
const gate = checkSourceGate(Number(values.levels), '--levels');
const { tensors, metadata } = loadSafetensors(input);
if (metadata.format !== FLOW_FORMAT) throw new InputError(`${input}: not a FusionFM model (format '${metadata.format ?? 'none'}')`);
checkGateApplies(gate, metadata.objective ?? 'flow', metadata.coupling ?? 'sum', input);
const config = JSON.parse(metadata.config ?? '{}');
const provenance = JSON.parse(metadata.provenance ?? '{}');
saveSafetensors(output, tensors, {
  ...metadata,
  config: JSON.stringify({ ...config, sourceGate: gate }),
  provenance: JSON.stringify({ ...provenance, source_gate_set_after_training: `${values.levels} grey levels, from ${input}` }),
});
console.log(`${output}: ${input} with a source gate of ${values.levels} grey levels`);
