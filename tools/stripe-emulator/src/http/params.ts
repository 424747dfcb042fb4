/**
 * Per-endpoint parameter whitelists. Each endpoint declares a Spec; `validate` rejects unknown params
 * (`parameter_unknown`), missing required ones (`parameter_missing`), wrong types
 * (`parameter_invalid_integer`, invalid boolean, invalid enum value) with Stripe's messages and `param` paths,
 * and returns typed values (integers as numbers, booleans as booleans, lists as arrays).
 */
import { asArray, FormObject, FormValue } from './form';
import { invalidRequest, missingParam, unknownParam } from './errors';

export type Field =
  | { kind: 'string'; required?: boolean; enum?: readonly string[]; emptyOk?: boolean }
  | { kind: 'integer'; required?: boolean; min?: number }
  | { kind: 'boolean'; required?: boolean }
  | { kind: 'metadata' }
  | { kind: 'any'; required?: boolean }
  | { kind: 'object'; required?: boolean; fields: Spec; emptyOk?: boolean }
  | { kind: 'array'; required?: boolean; of: Field };

export type Spec = Record<string, Field>;

export const f = {
  str: (o: { required?: boolean; enum?: readonly string[]; emptyOk?: boolean } = {}): Field => ({ kind: 'string', ...o }),
  req: (): Field => ({ kind: 'string', required: true }),
  int: (o: { required?: boolean; min?: number } = {}): Field => ({ kind: 'integer', ...o }),
  bool: (o: { required?: boolean } = {}): Field => ({ kind: 'boolean', ...o }),
  meta: (): Field => ({ kind: 'metadata' }),
  any: (o: { required?: boolean } = {}): Field => ({ kind: 'any', ...o }),
  obj: (fields: Spec, o: { required?: boolean; emptyOk?: boolean } = {}): Field => ({ kind: 'object', fields, ...o }),
  arr: (of: Field, o: { required?: boolean } = {}): Field => ({ kind: 'array', of, ...o }),
  enum: (values: readonly string[], o: { required?: boolean } = {}): Field => ({ kind: 'string', enum: values, ...o }),
};

/** `expand` is accepted everywhere. */
export const EXPAND: Spec = { expand: f.arr(f.str()) };
export const LIST: Spec = {
  ...EXPAND,
  limit: f.int({ min: 1 }),
  starting_after: f.str(),
  ending_before: f.str(),
  created: f.any(),
};

export type Params = Record<string, any>;

function path(parent: string, key: string): string {
  return parent ? `${parent}[${key}]` : key;
}

function emptyError(p: string) {
  return invalidRequest(
    `You passed an empty string for '${p}'. We assume empty values are an attempt to unset a parameter; however '${p}' cannot be unset. You should remove '${p}' from your request or supply a non-empty value.`,
    { param: p, code: 'parameter_invalid_empty' },
  );
}

function validateField(field: Field, value: FormValue, p: string): unknown {
  switch (field.kind) {
    case 'string': {
      if (typeof value !== 'string') throw invalidRequest(`Invalid string: {...}`, { param: p, code: 'parameter_invalid_string' });
      if (value === '' && !field.emptyOk) throw emptyError(p);
      if (field.enum && !field.enum.includes(value)) {
        throw invalidRequest(`Invalid ${p}: must be one of ${field.enum.join(', ')}`, { param: p });
      }
      return value;
    }
    case 'integer': {
      if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
        if (value === '') throw emptyError(p);
        throw invalidRequest(`Invalid integer: ${typeof value === 'string' ? value : '{...}'}`, { param: p, code: 'parameter_invalid_integer' });
      }
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${value}`, { param: p, code: 'parameter_invalid_integer' });
      if (field.min !== undefined && n < field.min) {
        throw invalidRequest(`This value must be greater than or equal to ${field.min}.`, { param: p, code: 'parameter_invalid_integer' });
      }
      return n;
    }
    case 'boolean': {
      if (value === 'true') return true;
      if (value === 'false') return false;
      if (value === '') throw emptyError(p);
      throw invalidRequest(`Invalid boolean: ${typeof value === 'string' ? value : '{...}'}`, { param: p });
    }
    case 'metadata': {
      if (value === '') return {}; // metadata= unsets all keys
      if (typeof value !== 'object') throw invalidRequest('Invalid object', { param: p });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw invalidRequest('Invalid string: {...}', { param: path(p, k) });
        if (k.length > 40) throw invalidRequest(`Metadata key length can't exceed 40 characters.`, { param: path(p, k) });
        if (v.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters.`, { param: path(p, k) });
        out[k] = v;
      }
      if (Object.keys(out).length > 50) throw invalidRequest('You can specify up to 50 keys.', { param: p });
      return out;
    }
    case 'any':
      return value;
    case 'object': {
      if (value === '' && field.emptyOk) return null;
      if (typeof value !== 'object') {
        if (value === '') throw emptyError(p);
        throw invalidRequest(`Invalid object`, { param: p });
      }
      return validateObject(field.fields, value, p);
    }
    case 'array': {
      if (value === '') return [];
      if (typeof value !== 'object') throw invalidRequest(`Invalid array`, { param: p });
      const arr = asArray(value);
      if (!arr) throw invalidRequest(`Invalid array`, { param: p });
      return arr.map((v, i) => validateField(field.of, v, `${p}[${i}]`));
    }
  }
}

function validateObject(spec: Spec, input: FormObject, parent: string): Params {
  const out: Params = {};
  for (const key of Object.keys(input)) {
    const field = spec[key];
    if (!field) throw unknownParam(path(parent, key));
    out[key] = validateField(field, input[key]!, path(parent, key));
  }
  for (const [key, field] of Object.entries(spec)) {
    if ('required' in field && field.required && !(key in out)) throw missingParam(path(parent, key));
  }
  return out;
}

export function validate(spec: Spec, input: FormObject): Params {
  return validateObject(spec, input, '');
}
