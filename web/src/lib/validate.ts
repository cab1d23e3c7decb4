/** Client-side validation mirroring StrategySpec (model.py) and the settings' types; the server re-checks. */
import type { InstrumentSpec, ParamValue, Params } from '../api/types';

export type Errors = Record<string, string>;

const ID_RE = /^[A-Za-z0-9_-]+$/;

export function validateStrategyId(id: string): string | null {
  if (!id) return 'required';
  if (!ID_RE.test(id)) return "letters, digits, '_' or '-' only";
  if (id === 'Discretionary') return "'Discretionary' is reserved for unattributed positions";
  return null;
}

export function validateCls(cls: string): string | null {
  if (!cls) return 'required';
  if (!/^strategies(\.[A-Za-z_][A-Za-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*$/.test(cls))
    return "must look like 'strategies.module:Class'";
  return null;
}

/** Parse a number field; '' → null. */
export function parseNum(s: string): number | null | typeof NaN {
  const t = s.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : NaN;
}

export function validateWeight(s: string): string | null {
  const n = parseNum(s);
  if (n === null) return 'required (0 for none)';
  if (Number.isNaN(n)) return 'must be a number';
  if (n < 0 || n > 1) return 'must be within [0, 1]';
  return null;
}

export function validateEquity(s: string): string | null {
  const n = parseNum(s);
  if (n === null) return null;
  if (Number.isNaN(n)) return 'must be a number';
  if (n < 0) return 'must be ≥ 0';
  return null;
}

/**
 * Instruments from a text field: comma- or newline-separated symbols ("AAPL, EUR.USD"), or a JSON array
 * for specs (`[{"symbol":"ES","sec_type":"FUT","exchange":"CME","currency":"USD","expiry":"202612"}]`).
 */
export function parseSymbols(s: string): { value: InstrumentSpec[]; error: string | null } {
  const t = s.trim();
  if (!t) return { value: [], error: 'at least one instrument' };
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(t.startsWith('{') ? `[${t}]` : t);
      if (!Array.isArray(v)) return { value: [], error: 'must be a JSON array' };
      for (const item of v) {
        const ok =
          (typeof item === 'string' && item.trim() !== '') ||
          (typeof item === 'object' && item !== null && typeof (item as Record<string, unknown>)['symbol'] === 'string');
        if (!ok) return { value: [], error: 'each instrument is a symbol or an object with "symbol"' };
      }
      return { value: v as InstrumentSpec[], error: null };
    } catch (e) {
      return { value: [], error: `invalid JSON: ${(e as Error).message}` };
    }
  }
  const parts = t
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = parts.find((p) => !/^[A-Za-z0-9.\-_ ]+$/.test(p));
  if (bad) return { value: [], error: `not a symbol: ${bad}` };
  return { value: parts.map((p) => p.toUpperCase()), error: null };
}

export function formatSymbols(symbols: InstrumentSpec[]): string {
  if (symbols.every((x) => typeof x === 'string')) return (symbols as string[]).join(', ');
  return JSON.stringify(symbols);
}

/** Coerce a param's text to the type of its default (number, boolean, string, null → JSON-ish). */
export function coerceParam(text: string, like: ParamValue | undefined): { value: ParamValue; error: string | null } {
  const t = text.trim();
  if (typeof like === 'number') {
    if (t === '') return { value: null, error: 'required' };
    const n = Number(t);
    if (!Number.isFinite(n)) return { value: null, error: 'must be a number' };
    // No whole-number rule: JSON cannot tell Python's 2.0 from 2, so a float default may look like an int.
    return { value: n, error: null };
  }
  if (typeof like === 'boolean') {
    if (t === 'true') return { value: true, error: null };
    if (t === 'false') return { value: false, error: null };
    return { value: null, error: 'true or false' };
  }
  if (typeof like === 'string') return { value: text, error: null };
  // Unknown type: a number if it parses, else true/false/null, else the string.
  if (t === '') return { value: null, error: null };
  if (t === 'true' || t === 'false') return { value: t === 'true', error: null };
  if (t === 'null') return { value: null, error: null };
  const n = Number(t);
  return { value: Number.isFinite(n) ? n : text, error: null };
}

/** Params from key→text using defaults for types; returns errors keyed by param name. */
export function parseParams(texts: Record<string, string>, defaults: Params): { value: Params; errors: Errors } {
  const value: Params = {};
  const errors: Errors = {};
  for (const [k, text] of Object.entries(texts)) {
    if (!k.trim()) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      errors[k] = 'not a valid parameter name';
      continue;
    }
    const r = coerceParam(text, defaults[k]);
    if (r.error) errors[k] = r.error;
    else value[k] = r.value;
  }
  return { value, errors };
}

export function paramText(v: ParamValue | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

/** A date 'YYYY-MM-DD'. */
export function validateDate(s: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return 'YYYY-MM-DD';
  return Number.isNaN(new Date(`${s}T00:00:00Z`).getTime()) ? 'not a date' : null;
}

export function validatePort(s: string): string | null {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return '1–65535';
  return null;
}

export function validateIntRange(s: string, min: number, max: number): string | null {
  const n = Number(s);
  if (s.trim() === '' || !Number.isInteger(n) || n < min || n > max) return `a whole number ${min}–${max}`;
  return null;
}

export function validateNonNeg(s: string): string | null {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n < 0) return 'a number ≥ 0';
  return null;
}

/** The fields of `next` that differ from `prev` (deep, for plain objects); undefined if nothing changed. */
export function diff<T extends object>(prev: T, next: T): Partial<T> | undefined {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(next) as (keyof T & string)[]) {
    const a = prev[k];
    const b = next[k];
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
      const d = diff(a as object, b as object);
      if (d) out[k] = d;
    } else if (a !== b) {
      out[k] = b;
    }
  }
  return Object.keys(out).length ? (out as Partial<T>) : undefined;
}
