/** Number, money, quantity and time formatting for a trader's desk. */

const cache = new Map<string, Intl.NumberFormat>();
function nf(min: number, max: number, signed = false): Intl.NumberFormat {
  const key = `${min}:${max}:${signed}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat('en-US', {
      minimumFractionDigits: min,
      maximumFractionDigits: max,
      signDisplay: signed ? 'exceptZero' : 'auto',
    });
    cache.set(key, f);
  }
  return f;
}

const DASH = '—';

function bad(v: number | null | undefined): v is null | undefined {
  return v === null || v === undefined || !Number.isFinite(v);
}

/** Money with 2 decimals and thousands separators: 1,000,000.00 */
export function fmtMoney(v: number | null | undefined, signed = false): string {
  return bad(v) ? DASH : nf(2, 2, signed).format(v);
}

/** Quantity: integers as integers, fractional shares/FX with up to 4 decimals. */
export function fmtQty(v: number | null | undefined, signed = false): string {
  if (bad(v)) return DASH;
  return nf(0, Number.isInteger(v) ? 0 : 4, signed).format(v);
}

/** Price: at least 2 decimals, up to 5 (FX) — trailing zeros beyond 2 trimmed. */
export function fmtPrice(v: number | null | undefined): string {
  return bad(v) ? DASH : nf(2, 5).format(v);
}

/** A fraction as a percentage: 0.1234 → 12.34% */
export function fmtPct(v: number | null | undefined, signed = false, digits = 2): string {
  return bad(v) ? DASH : `${nf(digits, digits, signed).format(v * 100)}%`;
}

export function fmtNum(v: number | null | undefined, digits = 2): string {
  return bad(v) ? DASH : nf(digits, digits).format(v);
}

/** CSS class for a signed value: pos / neg / '' */
export function signClass(v: number | null | undefined): string {
  if (bad(v) || v === 0) return '';
  return v > 0 ? 'pos' : 'neg';
}

export function sideOf(qty: number): 'BUY' | 'SELL' {
  return qty >= 0 ? 'BUY' : 'SELL';
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function toDate(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Local time `YYYY-MM-DD HH:MM:SS`; with `timeOnly` just `HH:MM:SS`. */
export function fmtTime(iso: string | null | undefined, timeOnly = false): string {
  const d = toDate(iso);
  if (!d) return DASH;
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (timeOnly) return t;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

/** UTC `YYYY-MM-DD HH:MM:SS.mmm UTC` for hover titles. */
export function fmtUtc(iso: string | null | undefined): string {
  const d = toDate(iso);
  if (!d) return '';
  return `${d.toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** True if the ISO time is today in local time. */
export function isToday(iso: string | null | undefined, now: Date = new Date()): boolean {
  const d = toDate(iso);
  return !!d && d.toDateString() === now.toDateString();
}

/** Seconds since the epoch (lightweight-charts' UTCTimestamp). */
export function epochSeconds(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/** "AAPL" or {symbol:"ES", expiry:"202612"} → a short label. */
export function instrumentLabel(i: string | { symbol: string; expiry?: string; sec_type?: string }): string {
  if (typeof i === 'string') return i;
  return [i.symbol, i.expiry].filter(Boolean).join(' ');
}
