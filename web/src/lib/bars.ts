/** Arctic rows → candles, and backtest shaping (stats comparison, fill markers). */
import type { BacktestFill, BacktestSummary, SymbolRows } from '../api/types';
import type { Candle, ChartMarker } from '../components/Chart';
import { epochSeconds } from './format';

export function isBarTable(r: Pick<SymbolRows, 'columns'>): boolean {
  const c = new Set(r.columns.map((x) => x.toLowerCase()));
  return ['open', 'high', 'low', 'close'].every((k) => c.has(k));
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
}

/** Candles from rows whose index is a time column; rows with a bad time or price are skipped. */
export function rowsToCandles(r: SymbolRows): Candle[] {
  const key = (name: string) => r.columns.find((c) => c.toLowerCase() === name) ?? name;
  const [o, h, l, c] = [key('open'), key('high'), key('low'), key('close')];
  const out: Candle[] = [];
  for (const row of r.rows) {
    const t = row[r.index_name];
    if (typeof t !== 'string' && typeof t !== 'number') continue;
    const time = typeof t === 'number' ? (t > 1e12 ? Math.floor(t / 1000) : t) : epochSeconds(t);
    const bar = { time, open: num(row[o]), high: num(row[h]), low: num(row[l]), close: num(row[c]) };
    if ([bar.time, bar.open, bar.high, bar.low, bar.close].every(Number.isFinite)) out.push(bar);
  }
  return out;
}

/** Fill markers on the bar at or before each fill (lightweight-charts draws markers at bar times). */
export function fillMarkers(fills: BacktestFill[], symbol: string, barTimes: number[] = []): ChartMarker[] {
  const times = [...barTimes].sort((a, b) => a - b);
  const snap = (t: number): number => {
    if (!times.length) return t;
    let lo = 0;
    let hi = times.length - 1;
    if (t < (times[0] ?? t)) return times[0] ?? t;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((times[mid] ?? Infinity) <= t) lo = mid;
      else hi = mid - 1;
    }
    return times[lo] ?? t;
  };
  const mine = fills.filter((f) => f.symbol === symbol);
  // Labels only while they stay readable; arrows alone beyond that.
  const label = mine.length <= 12;
  return mine.map((f) => ({
    time: snap(epochSeconds(f.at)),
    side: f.side,
    text: label ? `${f.side === 'BUY' ? 'B' : 'S'} ${f.qty}@${f.price}` : '',
  }));
}

export const STAT_ROWS: { key: string; label: string; kind: 'money' | 'pct' | 'num' | 'int' }[] = [
  { key: 'final_equity', label: 'Final equity', kind: 'money' },
  { key: 'total_return', label: 'Total return', kind: 'pct' },
  { key: 'sharpe', label: 'Sharpe', kind: 'num' },
  { key: 'max_drawdown', label: 'Max drawdown', kind: 'pct' },
  { key: 'trades', label: 'Trades', kind: 'int' },
  { key: 'bars', label: 'Bars', kind: 'int' },
];

/** The stats keys to show for a set of runs: the pinned ones first, then any extras in first-seen order. */
export function statKeys(runs: Pick<BacktestSummary, 'stats'>[]): string[] {
  const keys = STAT_ROWS.map((r) => r.key);
  for (const r of runs) for (const k of Object.keys(r.stats ?? {})) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** Decimals to show for a numeric column: the most any value needs (up to `max`), so a column lines up. */
export function columnDecimals(rows: Record<string, unknown>[], col: string, max = 6): number | null {
  let d = 0;
  let numeric = false;
  for (const r of rows) {
    const v = r[col];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    numeric = true;
    if (Number.isInteger(v)) continue;
    const s = v.toPrecision(12).replace(/0+$/, '');
    const i = s.indexOf('.');
    if (i >= 0) d = Math.max(d, Math.min(max, s.length - i - 1));
  }
  return numeric ? d : null;
}
