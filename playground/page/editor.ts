/**
 * The model editor: a preset menu, a model file (JSON) or DSL snippet text area validated as you
 * type (every problem on its own line, with its path, as the model codec reports it), the
 * controls (knobs.ts) and the layer table. Controls edit the model file; moving one while a DSL
 * snippet is shown replaces the snippet by its model file (the controls cannot rewrite code), and
 * the page says so.
 *
 * @example
 * import { mountEditor } from './editor.ts';
 * // const editor = mountEditor(elements, evaluateSnippet, { changed: (model) => ..., trainingDefaults: (t) => ... });
 * // editor.current(); // the valid model, or undefined
 */
import { formatShape } from '../../dsl/shape.ts';
import type { TrainingDefaults } from '../../dsl/network.ts';
import type { SnippetResult } from './dsl-client.ts';
import { applyKnob, knobsOf, type Knob } from './knobs.ts';
import { checkModelJSON, checkModelText, type Check, type CheckedModel } from './model-source.ts';
import { presets } from './presets.ts';

/** The page elements the editor owns. */
export interface EditorElements {
  readonly preset: HTMLSelectElement;
  readonly kinds: ReadonlyArray<HTMLInputElement>;
  readonly source: HTMLTextAreaElement;
  readonly note: HTMLElement;
  readonly problems: HTMLElement;
  readonly knobs: HTMLElement;
  readonly summary: HTMLTableElement;
}

/** What the editor tells the page. */
export interface EditorEvents {
  /** The model changed: the valid one, or undefined while the text has problems. */
  readonly changed: (model: CheckedModel | undefined) => void;
  /** A preset was loaded: its `training` section (the page's settings follow it). */
  readonly trainingDefaults: (training: TrainingDefaults | undefined) => void;
}

/** The editor's handle. */
export interface Editor {
  readonly current: () => CheckedModel | undefined;
}

type Kind = 'json' | 'dsl';

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
};

/** Wires the editor into the page, loaded with the first preset. */
export const mountEditor = (els: EditorElements, evaluateSnippet: (source: string) => Promise<SnippetResult>, events: EditorEvents): Editor => {
  let kind: Kind = 'json';
  let current: CheckedModel | undefined;
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let presetLoaded = false;

  const setKind = (k: Kind) => {
    kind = k;
    for (const r of els.kinds) r.checked = r.value === k;
  };

  const showProblems = (problems: ReadonlyArray<string>) => {
    els.problems.className = 'invalid';
    els.problems.dataset.valid = 'false';
    const list = el('ul');
    for (const p of problems) list.append(el('li', p));
    els.problems.replaceChildren(list);
    els.source.classList.add('invalid');
  };

  const showSummary = (m: CheckedModel) => {
    const { totals, layers } = m.summary;
    els.problems.className = 'valid';
    els.problems.dataset.valid = 'true';
    els.problems.textContent = `valid: ${layers.length} layers, ${totals.params.toLocaleString('en-US')} parameters (${totals.nonzeroParams.toLocaleString('en-US')} non-zero)`;
    els.source.classList.remove('invalid');
    const head = el('tr');
    for (const h of ['#', 'layer', 'output', 'params', 'non-zero', 'k (inference)', 'boost']) head.append(el('th', h));
    const rows = layers.map((l) => {
      const tr = el('tr');
      const boost = l.boost ? `${l.boost.strength} x${l.boost.strengthFactor}` : '';
      const k = l.k !== undefined ? `${l.k}/${l.n}${l.groups && l.groups > 1 ? ` x${l.groups}` : ''} (${l.kInference})` : '';
      for (const c of [String(l.index), l.kind, formatShape(l.outputShape), l.params.toLocaleString('en-US'), l.nonzeroParams.toLocaleString('en-US'), k, boost]) tr.append(el('td', c));
      return tr;
    });
    els.summary.replaceChildren(head, ...rows);
  };

  const showKnobs = (m: CheckedModel | undefined) => {
    if (!m) {
      els.knobs.classList.add('disabled');
      for (const input of Array.from(els.knobs.querySelectorAll('input'))) input.disabled = true;
      return;
    }
    els.knobs.classList.remove('disabled');
    const knobs = knobsOf(m.network, m.summary);
    if (knobs.length === 0) {
      els.knobs.replaceChildren(el('span', 'This model has no k-winners or weighted layers to tune.'));
      return;
    }
    els.knobs.replaceChildren(...knobs.flatMap((k) => knobRow(k, m)));
  };

  const knobRow = (knob: Knob, m: CheckedModel): HTMLElement[] => {
    const label = el('label', knob.label);
    const input = el('input');
    input.type = 'range';
    Object.assign(input, { min: String(knob.min), max: String(knob.max), step: String(knob.step), value: String(knob.value) });
    input.dataset.kind = knob.kind;
    input.dataset.layer = String(knob.layer);
    input.id = `knob-${knob.layer}-${knob.kind}`;
    label.htmlFor = input.id;
    const output = el('output', String(knob.value));
    input.addEventListener('input', () => (output.textContent = input.value));
    input.addEventListener('change', () => {
      const json = applyKnob(m.json, knob, Number(input.value));
      if (kind === 'dsl') {
        setKind('json');
        els.note.textContent = 'The controls edit the model file: the DSL snippet was replaced by its model file (JSON).';
      } else {
        els.note.textContent = '';
      }
      els.source.value = JSON.stringify(json, null, 2);
      void check();
    });
    return [label, input, output];
  };

  const settle = (r: Check) => {
    current = r.ok ? r.model : undefined;
    if (r.ok) showSummary(r.model);
    else showProblems(r.problems);
    showKnobs(current);
    if (r.ok && presetLoaded) events.trainingDefaults(r.model.network.training);
    presetLoaded = false;
    events.changed(current);
  };

  /** Checks the text now; a newer check makes an older one's answer moot. */
  const check = async (): Promise<void> => {
    clearTimeout(timer);
    const mine = ++generation;
    const text = els.source.value;
    if (kind === 'json') return settle(checkModelText(text));
    els.problems.dataset.valid = 'pending';
    els.problems.className = 'pending';
    els.problems.textContent = 'evaluating the snippet...';
    const r = await evaluateSnippet(text);
    if (mine !== generation) return;
    settle('json' in r ? checkModelJSON(r.json) : { ok: false, problems: [r.error] });
  };

  const loadPreset = (id: string) => {
    const p = presets.find((x) => x.id === id) ?? presets[0];
    els.preset.value = p.id;
    setKind(p.kind);
    els.source.value = p.text;
    els.note.textContent = '';
    presetLoaded = true;
    void check();
  };

  els.preset.replaceChildren(...presets.map((p) => Object.assign(el('option', p.label), { value: p.id })));
  els.preset.addEventListener('change', () => loadPreset(els.preset.value));
  for (const r of els.kinds) {
    r.addEventListener('change', () => {
      if (!r.checked) return;
      setKind(r.value === 'dsl' ? 'dsl' : 'json');
      els.note.textContent = '';
      void check();
    });
  }
  els.source.addEventListener('input', () => {
    clearTimeout(timer);
    current = undefined;
    els.problems.dataset.valid = 'pending'; // until the check below has answered
    els.problems.classList.add('pending');
    events.changed(undefined); // no training on a model being edited until it checks out
    timer = setTimeout(() => void check(), kind === 'dsl' ? 400 : 200);
  });
  loadPreset(presets[0].id);
  return { current: () => current };
};
