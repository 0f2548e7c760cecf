/**
 * `.set <path> <value>` on a model file's JSON: the path (`layers.2.kwta.percentOn`, or
 * `layers[2].kwta.percentOn` as error messages write it), the value (JSON, or a bare word as a
 * string; `undefined` removes the field) and a copy of the JSON with the value set. Whether the
 * result is a valid model is the model codec's question (`decodeModel`), not this module's: it
 * only refuses paths that cannot be followed.
 *
 * @example
 * import { parsePath, parseValue, setAt, formatPath } from 'winnow/runtime/repl/set-path';
 * const keys = parsePath('layers.1.kwta.percentOn'); // ['layers', 1, 'kwta', 'percentOn']
 * formatPath(keys); // 'layers[1].kwta.percentOn'
 * setAt({ layers: [{}, { kwta: { percentOn: 0.1 } }] }, keys, parseValue('0.05')); // { layers: [{}, { kwta: { percentOn: 0.05 } }] }
 */
import { WinnowError } from '../../dsl/errors.ts';

/** One step of a path: a field name or a list index. */
export type PathKey = string | number;

/** A value that removes the field it is set at. */
export const removeField: unique symbol = Symbol('remove field');

const fieldPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a path into field names and indices; throws a one-line usage error for a malformed one. */
export const parsePath = (path: string): PathKey[] => {
  const keys: PathKey[] = [];
  const text = path.trim();
  if (text === '') throw new WinnowError('usage', 'expects a path such as layers.1.kwta.percentOn');
  // `a.b[2].c` and `a.b.2.c` alike: brackets become dots.
  for (const part of text.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (/^\d+$/.test(part)) keys.push(Number(part));
    else if (fieldPattern.test(part)) keys.push(part);
    else throw new WinnowError('usage', `path ${JSON.stringify(path)}: ${part === '' ? 'has an empty step' : `${JSON.stringify(part)} is neither a field name nor an index`}`);
  }
  return keys;
};

/** A path as the model codec's error messages write it: `layers[2].kwta.percentOn`. */
export const formatPath = (keys: ReadonlyArray<PathKey>): string =>
  keys.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s === '' ? k : `${s}.${k}`), '') || '(root)';

/** The value of `.set`: JSON when it parses (`0.05`, `true`, `{"k": 20}`, `"x"`), `undefined` to remove the field, else the text itself. */
export const parseValue = (text: string): unknown => {
  const t = text.trim();
  if (t === '') throw new WinnowError('usage', 'expects a value after the path');
  if (t === 'undefined') return removeField;
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
};

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

const kindOf = (u: unknown): string => (Array.isArray(u) ? 'a list' : u === null ? 'null' : typeof u === 'object' ? 'an object' : `a ${typeof u}`);

/** The value at a path, or undefined when the path leads nowhere. */
export const getAt = (json: unknown, keys: ReadonlyArray<PathKey>): unknown =>
  keys.reduce<unknown>((node, k) => (Array.isArray(node) && typeof k === 'number' ? node[k] : isObject(node) && typeof k === 'string' ? node[k] : undefined), json);

/**
 * A deep copy of `json` with `value` at `keys` (`removeField` removes it). Missing objects on the
 * way are created; a list index must exist; stepping into a number, a string or a list by name
 * is a usage error naming the path so far.
 */
export const setAt = (json: unknown, keys: ReadonlyArray<PathKey>, value: unknown): unknown => {
  if (keys.length === 0) throw new WinnowError('usage', 'expects a path such as layers.1.kwta.percentOn');
  const copy = structuredClone(json) as unknown;
  let node: unknown = copy;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const last = i === keys.length - 1;
    const here = formatPath(keys.slice(0, i));
    if (Array.isArray(node)) {
      if (typeof k !== 'number') throw new WinnowError('usage', `${here} is a list: use an index (0 to ${node.length - 1}), not ${JSON.stringify(k)}`);
      if (k >= node.length) throw new WinnowError('usage', `${formatPath(keys.slice(0, i + 1))}: no such entry (${here} has ${node.length}, 0 to ${node.length - 1})`);
      if (last) {
        if (value === removeField) node.splice(k, 1);
        else node[k] = value;
        return copy;
      }
      if (!isObject(node[k]) && !Array.isArray(node[k])) node[k] = {};
      node = node[k];
    } else if (isObject(node)) {
      const key = String(k);
      if (last) {
        if (value === removeField) delete node[key];
        else node[key] = value;
        return copy;
      }
      if (node[key] === undefined) node[key] = typeof keys[i + 1] === 'number' ? [] : {};
      else if (!isObject(node[key]) && !Array.isArray(node[key])) {
        throw new WinnowError('usage', `${formatPath(keys.slice(0, i + 1))} is ${kindOf(node[key])} (${JSON.stringify(node[key])}), not an object: cannot set ${formatPath(keys)}`);
      }
      node = node[key];
    } else {
      throw new WinnowError('usage', `${here} is ${kindOf(node)}: cannot set ${formatPath(keys)}`);
    }
  }
  return copy;
};
