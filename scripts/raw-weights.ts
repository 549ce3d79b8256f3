/**
 * A model file with a run's raw (optimiser) weights instead of its EMA weights: the run's
 * model.safetensors holds the EMA, which at short runs still carries much of the weights of
 * earlier steps (and, in a task sequence, of earlier tasks: at decay 0.995, 47% of the EMA after
 * a 150-step phase comes from before it). Scoring both says what the EMA costs or buys.
 *
 *   node dist/scripts/raw-weights.js <run-dir> <out.safetensors>
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../src/io/checkpoint.js';
import { FLOW_FORMAT } from '../src/io/flow-checkpoint.js';
import { InputError } from '../src/util/errors.js';

const [run, output, ...rest] = process.argv.slice(2);
if (!run || !output || rest.length) throw new InputError('usage: raw-weights <run-dir> <out.safetensors>');
if (existsSync(output)) throw new InputError(`${output}: already exists; not overwritten`);
const modelPath = join(run, 'model.safetensors');
const statePath = join(run, 'state.safetensors');
for (const p of [modelPath, statePath]) if (!existsSync(p)) throw new InputError(`${p}: missing (expected a fusionfm train --out folder)`);
const model = loadSafetensors(modelPath);
if (model.metadata.format !== FLOW_FORMAT) throw new InputError(`${modelPath}: not a FusionFM model (format '${model.metadata.format ?? 'none'}')`);
const state = loadSafetensors(statePath);
const stateMeta = JSON.parse(state.metadata.state ?? '{}');
const provenance = JSON.parse(model.metadata.provenance ?? '{}');
if (provenance.step !== undefined && stateMeta.step !== provenance.step) {
  throw new InputError(`${run}: model.safetensors is of step ${provenance.step}, state.safetensors of step ${stateMeta.step}; they must be one save`);
}
const raw = new Map(
  [...model.tensors].map(([name, t]) => {
    const r = state.tensors.get(name);
    if (!r || r.shape.join('x') !== t.shape.join('x')) throw new InputError(`${statePath}: no raw weight '${name}' of shape [${t.shape}]`);
    return [name, r];
  }),
);
saveSafetensors(output, raw, { ...model.metadata, provenance: JSON.stringify({ ...provenance, weights: `raw optimiser weights (no EMA) from ${statePath}` }) });
console.log(`${output}: the raw weights of ${run} at step ${stateMeta.step}`);
