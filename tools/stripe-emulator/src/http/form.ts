/**
 * application/x-www-form-urlencoded parser with Stripe's bracket notation.
 * `a[b][c]=v` -> {a:{b:{c:'v'}}}; `arr[]=x&arr[]=y` and `arr[0]=x&arr[1]=y` -> {arr:{'0':'x','1':'y'}}
 * (arrays are kept as index-keyed objects here; the param validator turns them into real arrays
 * where the endpoint expects a list, so `metadata[0]=x` stays a hash).
 */
export type FormValue = string | FormObject;
export interface FormObject {
  [k: string]: FormValue;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export class FormParseError extends Error {}

export function parseForm(body: string): FormObject {
  const root: FormObject = Object.create(null);
  if (!body) return root;
  for (const pair of body.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const segments = splitKey(rawKey);
    if (!segments) throw new FormParseError(`Invalid parameter name: ${rawKey}`);
    assign(root, segments, value, rawKey);
  }
  return root;
}

function splitKey(key: string): string[] | null {
  const first = key.indexOf('[');
  if (first === -1) return [key];
  if (first === 0) return null;
  const segs = [key.slice(0, first)];
  let rest = key.slice(first);
  while (rest.length) {
    if (rest[0] !== '[') return null;
    const close = rest.indexOf(']');
    if (close === -1) return null;
    segs.push(rest.slice(1, close));
    rest = rest.slice(close + 1);
  }
  return segs;
}

function assign(root: FormObject, segs: string[], value: string, rawKey: string): void {
  let node: FormObject = root;
  for (let i = 0; i < segs.length; i++) {
    let seg = segs[i]!;
    const last = i === segs.length - 1;
    if (seg === '') {
      // `[]` appends; for `items[][price]=..&items[][qty]=..` the second field fills the last element.
      let n = Object.keys(node).length;
      if (!last && n > 0) {
        const cur = node[String(n - 1)];
        const next = segs[i + 1]!;
        if (typeof cur === 'object' && !Object.prototype.hasOwnProperty.call(cur, next)) n -= 1;
      }
      seg = String(n);
    }
    if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') throw new FormParseError(`Invalid parameter name: ${rawKey}`);
    if (last) {
      node[seg] = value;
    } else {
      const existing = node[seg];
      if (existing === undefined || typeof existing === 'string') {
        const child: FormObject = Object.create(null);
        node[seg] = child;
        node = child;
      } else {
        node = existing;
      }
    }
  }
}

/** Convert an index-keyed object {'0':..,'1':..} to an array (sorted by index); null if keys are not all indices. */
export function asArray(v: FormObject): FormValue[] | null {
  const keys = Object.keys(v);
  if (!keys.every((k) => /^\d+$/.test(k))) return null;
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => v[k]!);
}
