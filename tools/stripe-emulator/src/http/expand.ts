/** `expand[]=a.b` support: replaces id strings by the objects they name (max depth 4), without mutating the store. */
import { invalidRequest } from './errors';

export type Lookup = (id: string) => object | undefined;

export function applyExpand(value: unknown, paths: string[] | undefined, lookup: Lookup): unknown {
  if (!paths || paths.length === 0) return value;
  let out = value;
  for (const p of paths) {
    const segs = p.split('.');
    if (segs.length > 4) {
      throw invalidRequest(`You cannot expand more than 4 levels of a property. Property: ${p}`, { param: 'expand' });
    }
    out = expandPath(out, segs, lookup, p);
  }
  return out;
}

function expandPath(node: unknown, segs: string[], lookup: Lookup, full: string): unknown {
  if (segs.length === 0) return node;
  if (Array.isArray(node)) return node.map((n) => expandPath(n, segs, lookup, full));
  if (node === null || typeof node !== 'object') return node;
  const [head, ...rest] = segs as [string, ...string[]];
  const obj = node as Record<string, unknown>;
  if (!(head in obj)) throw invalidRequest(`This property cannot be expanded (${full}).`, { param: 'expand' });
  let child = obj[head];
  if (typeof child === 'string') {
    const found = lookup(child);
    if (!found) {
      if (rest.length === 0 && head !== 'data') return node; // dangling ids stay as ids
      throw invalidRequest(`This property cannot be expanded (${full}).`, { param: 'expand' });
    }
    child = found;
  } else if (rest.length === 0 && child !== null && typeof child !== 'object') {
    throw invalidRequest(`This property cannot be expanded (${full}).`, { param: 'expand' });
  }
  return { ...obj, [head]: expandPath(child, rest, lookup, full) };
}
