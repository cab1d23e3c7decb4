import { describe, expect, it } from 'vitest';
import type { BacktestFill, SymbolRows } from '../api/types';
import { columnDecimals, fillMarkers, isBarTable, rowsToCandles, statKeys } from './bars';

const rows: SymbolRows = {
  library: 'market_data',
  symbol: 'AAPL_1min',
  index_name: 'time',
  columns: ['open', 'high', 'low', 'close', 'volume'],
  rows: [
    { time: '2026-10-01T13:30:00Z', open: 189, high: 189.5, low: 188.9, close: 189.2, volume: 100 },
    { time: '2026-10-01T13:31:00Z', open: 189.2, high: 189.9, low: 189.1, close: 189.8, volume: 120 },
    { time: null, open: 1, high: 1, low: 1, close: 1, volume: 1 },
  ],
  total_rows: 3,
};

describe('bars', () => {
  it('recognises bar tables and makes candles in epoch seconds', () => {
    expect(isBarTable(rows)).toBe(true);
    expect(isBarTable({ columns: ['exec_id', 'price'] })).toBe(false);
    const c = rowsToCandles(rows);
    expect(c).toHaveLength(2);
    expect(c[0]).toEqual({ time: Date.UTC(2026, 9, 1, 13, 30) / 1000, open: 189, high: 189.5, low: 188.9, close: 189.2 });
  });

  it('puts fill markers on the bar at or before the fill', () => {
    const t0 = Date.UTC(2026, 9, 1, 13, 30) / 1000;
    const fills: BacktestFill[] = [
      { at: '2026-10-01T13:30:30Z', symbol: 'AAPL', side: 'BUY', qty: 10, price: 189.2, commission: 1, strategy_id: 'x' },
      { at: '2026-10-01T13:31:00Z', symbol: 'AAPL', side: 'SELL', qty: 10, price: 189.8, commission: 1, strategy_id: 'x' },
      { at: '2026-10-01T13:31:00Z', symbol: 'MSFT', side: 'SELL', qty: 1, price: 400, commission: 1, strategy_id: 'x' },
    ];
    const m = fillMarkers(fills, 'AAPL', [t0, t0 + 60]);
    expect(m).toEqual([
      { time: t0, side: 'BUY', text: 'B 10@189.2' },
      { time: t0 + 60, side: 'SELL', text: 'S 10@189.8' },
    ]);
  });

  it('chooses per-column decimals and lists stats keys in order', () => {
    expect(columnDecimals(rows.rows, 'open')).toBe(1);
    expect(columnDecimals(rows.rows, 'volume')).toBe(0);
    expect(columnDecimals(rows.rows, 'time')).toBeNull();
    expect(columnDecimals([{ p: 1.08437 }, { p: 1.1 }], 'p')).toBe(5);
    expect(statKeys([{ stats: { final_equity: 1, total_return: 0, sharpe: 0, max_drawdown: 0, trades: 0, bars: 0, win_rate: 0.5 } }])).toEqual([
      'final_equity', 'total_return', 'sharpe', 'max_drawdown', 'trades', 'bars', 'win_rate',
    ]);
  });
});
