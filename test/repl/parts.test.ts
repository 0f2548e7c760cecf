import { mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { boost, decodeModel, dense, input, kwta, modelToJSON, softmaxCrossEntropy, sparse, type Network } from '../../dsl/index.ts';
import { lineChart } from '../../runtime/cli/chart.ts';
import { dutyCycleEntropy } from '../../runtime/duty-cycle-entropy.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { appendHistory, historyFile, readHistory } from '../../runtime/repl/history.ts';
import { keepState } from '../../runtime/repl/keep-state.ts';
import { formatPath, parsePath, parseValue, removeField, setAt } from '../../runtime/repl/set-path.ts';

const net = pipe(input([784]), dense(16), sparse(0.5), kwta({ k: 4 }), boost({ strength: 1.5 }), dense(10), softmaxCrossEntropy);
const edit = (n: Network, path: string, value: string): Network => {
  const r = decodeModel(setAt(modelToJSON(n), parsePath(path), parseValue(value)));
  if (r._tag === 'Left') throw new Error(r.left.join('; '));
  return r.right;
};

describe('.set paths', () => {
  it('reads dotted and bracketed paths and writes them as the codec does', () => {
    expect(parsePath('layers.2.kwta.percentOn')).toEqual(['layers', 2, 'kwta', 'percentOn']);
    expect(parsePath('layers[2].kwta.percentOn')).toEqual(['layers', 2, 'kwta', 'percentOn']);
    expect(formatPath(['layers', 2, 'kwta', 'percentOn'])).toBe('layers[2].kwta.percentOn');
    expect(() => parsePath('layers..kwta')).toThrow('path "layers..kwta": has an empty step');
    expect(() => parsePath('layers.2.k-wta')).toThrow('"k-wta" is neither a field name nor an index');
  });

  it('parses values as JSON, else as text, and `undefined` as removal', () => {
    expect(parseValue('0.05')).toBe(0.05);
    expect(parseValue('true')).toBe(true);
    expect(parseValue('{"k": 20}')).toEqual({ k: 20 });
    expect(parseValue('hidden_1')).toBe('hidden_1');
    expect(parseValue('undefined')).toBe(removeField);
  });

  it('sets a copy, creates missing objects, removes fields and refuses paths it cannot follow', () => {
    const json = { layers: [{ dense: { units: 4 } }, { kwta: { percentOn: 0.1 } }] };
    expect(setAt(json, ['layers', 1, 'kwta', 'percentOn'], 0.2)).toEqual({ layers: [{ dense: { units: 4 } }, { kwta: { percentOn: 0.2 } }] });
    expect(json.layers[1].kwta!.percentOn).toBe(0.1); // the original is untouched
    expect(setAt(json, ['layers', 1, 'kwta', 'boost', 'strength'], 2)).toEqual({ layers: [{ dense: { units: 4 } }, { kwta: { percentOn: 0.1, boost: { strength: 2 } } }] });
    expect(setAt(json, ['layers', 1, 'kwta', 'percentOn'], removeField)).toEqual({ layers: [{ dense: { units: 4 } }, { kwta: {} }] });
    expect(() => setAt(json, ['layers', 5, 'dense', 'units'], 3)).toThrow('layers[5]: no such entry (layers has 2, 0 to 1)');
    expect(() => setAt(json, ['layers', 'first'], 3)).toThrow('layers is a list: use an index (0 to 1), not "first"');
    expect(() => setAt(json, ['layers', 0, 'dense', 'units', 'x'], 3)).toThrow('layers[0].dense.units is a number (4), not an object: cannot set layers[0].dense.units.x');
  });
});

describe('keeping state across a change (the .set rule)', () => {
  const from = (n: Network) => {
    const lowered = lower(trace(n));
    const state = initModelState(lowered, { seed: 3, dtype: 'float32' });
    for (const t of state.tensors.values()) for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) t.data[i] += 0.25; // "trained"
    return { network: n, lowered, state };
  };

  it('a k-winners setting keeps every tensor, copied', () => {
    const a = from(net);
    const changed = edit(net, 'layers.1.kwta.k', '6');
    const { state, kept, reset } = keepState(a, { network: changed, lowered: lower(trace(changed)) }, 1);
    expect(reset).toEqual([]);
    expect(kept).toEqual([...a.state.tensors.keys()]);
    for (const [name, t] of a.state.tensors) {
      expect(Array.from(state.tensors.get(name)!.data)).toEqual(Array.from(t.data));
      expect(state.tensors.get(name)!.data).not.toBe(t.data);
    }
    expect(Array.from(state.masks.get('l0.weight')!)).toEqual(Array.from(a.state.masks.get('l0.weight')!));
  });

  it('a layer width re-initialises what its shape reaches, from the seed; a boost strength resets only that strength', () => {
    const a = from(net);
    const wider = edit(net, 'layers.0.dense.units', '24');
    const lowered = lower(trace(wider));
    const { state, kept, reset } = keepState(a, { network: wider, lowered }, 1);
    expect(reset).toEqual(expect.arrayContaining(['l0.weight', 'l0.bias', 'l1.dutyCycle', 'l2.weight']));
    expect(kept).toContain('l1.boostStrength');
    const fresh = initModelState(lowered, { seed: 1, dtype: 'float32' });
    for (const name of reset) expect(Array.from(state.tensors.get(name)!.data)).toEqual(Array.from(fresh.tensors.get(name)!.data));

    const stronger = edit(net, 'layers.1.kwta.boost.strength', '2');
    const s = keepState(a, { network: stronger, lowered: lower(trace(stronger)) }, 1);
    expect(s.reset).toEqual(['l1.boostStrength']);
    expect(s.state.tensors.get('l1.boostStrength')!.data[0]).toBe(2);
  });
});

describe('duty-cycle entropy', () => {
  it('is the summed binary entropy of the duty cycles, out of units x H(k/n)', () => {
    const lowered = lower(trace(net));
    const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
    const dc = state.tensors.get('l1.dutyCycle')!.data;
    const h = (p: number) => -p * Math.log2(p) - (1 - p) * Math.log2(1 - p);
    dc.fill(0.25); // k/n = 4/16: every unit wins equally often
    let [e] = dutyCycleEntropy(lowered, state);
    expect(e.layer).toBe(1);
    expect(e.units).toBe(16);
    expect(e.maxEntropy).toBeCloseTo(16 * h(0.25), 10);
    expect(e.entropy).toBeCloseTo(e.maxEntropy, 5);
    dc.fill(0);
    dc.fill(1, 0, 4); // the same four units always win
    [e] = dutyCycleEntropy(lowered, state);
    expect(e.entropy).toBe(0);
    dc.fill(0.5);
    expect(dutyCycleEntropy(lowered, state)[0].entropy).toBeCloseTo(16, 5);
  });
});

describe('terminal chart', () => {
  it('draws the series over their labels, ASCII when asked', () => {
    const text = lineChart(['0.1', '0.2'], [{ name: 'a', values: [0, 1] }, { name: 'b', values: [1, 1] }], { height: 3, ascii: true, format: (v) => v.toFixed(2) });
    expect(text).toBe(
      [
        ' 1.08 +o....@', // b alone at 0.1; a and b both at 1 over 0.2
        ' 0.50 +  ..',
        '-0.08 +*.',
        '      ++----+',
        '       0.1  0.2',
        '       * a   o b   @ both',
      ].join('\n'),
    );
    expect(lineChart(['x'], [{ name: 'a', values: [0.5] }])).toContain('●');
  });
});

describe('history file', () => {
  it('is $WINNOW_REPL_HISTORY (empty: none), else under $XDG_STATE_HOME, else ~/.local/state', () => {
    expect(historyFile({ WINNOW_REPL_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyFile({ WINNOW_REPL_HISTORY: '' })).toBeUndefined();
    expect(historyFile({ XDG_STATE_HOME: '/state' })).toBe(join('/state', 'winnow', 'repl_history'));
    expect(historyFile({})).toBe(join(homedir(), '.local', 'state', 'winnow', 'repl_history'));
  });

  it('keeps the newest entries, newest first, trimming a long file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'winnow-history-')), 'sub', 'h');
    for (let i = 0; i < 7; i++) appendHistory(file, `line ${i}`);
    expect(readHistory(file, 3)).toEqual(['line 6', 'line 5', 'line 4']);
    expect(readFileSync(file, 'utf8')).toBe('line 4\nline 5\nline 6\n'); // 7 > 2 x 3: trimmed
    expect(readHistory(join(file, 'missing'), 3)).toEqual([]);
  });
});
