import { describe, expect, it } from 'vitest';
import type { PortfolioPosition, ReconciliationRow } from '../api/types';
import { groupByStrategy, reconRows, strategyExposure } from './portfolio';

const pos = (strategy_id: string, symbol: string, con_id: number, qty: number, upnl = 0): PortfolioPosition => ({
  strategy_id, symbol, con_id, qty, avg_cost: 100, market_price: 101, market_value: qty * 101, unrealized_pnl: upnl, currency: 'USD',
});

describe('groupByStrategy', () => {
  it('groups positions, puts Discretionary last and drops flat rows', () => {
    const g = groupByStrategy([
      pos('Discretionary', 'MSFT', 2, 5, 1),
      pos('zeta', 'AAPL', 1, 10, 2),
      pos('alpha', 'TSLA', 3, 0),
      pos('alpha', 'AAPL', 1, -3, -1),
      pos('zeta', 'ABC', 4, 1, 3),
    ]);
    expect(g.map((x) => x.strategy_id)).toEqual(['alpha', 'zeta', 'Discretionary']);
    expect(g[0]?.positions.map((p) => p.symbol)).toEqual(['AAPL']);
    expect(g[1]?.positions.map((p) => p.symbol)).toEqual(['AAPL', 'ABC']);
    expect(g[1]?.unrealized_pnl).toBe(5);
    expect(g[2]?.market_value).toBe(505);
  });
});

describe('reconRows', () => {
  const rows: ReconciliationRow[] = [
    { con_id: 1, symbol: 'AAPL', ib_qty: 10, attributed_qty: 10, discretionary_qty: 0, break_qty: 0, locked: false },
    { con_id: 2, symbol: 'MSFT', ib_qty: 8, attributed_qty: 0, discretionary_qty: 5, break_qty: 3, locked: false },
    { con_id: 3, symbol: 'TSLA', ib_qty: 3, attributed_qty: 0, discretionary_qty: 0, break_qty: 3, locked: true },
  ];
  it('ranks locked, then breaks, then reconciled rows and recomputes the break', () => {
    const v = reconRows(rows, [pos('sma', 'AAPL', 1, 10), pos('Discretionary', 'MSFT', 2, 5)]);
    expect(v.map((r) => [r.symbol, r.status])).toEqual([
      ['TSLA', 'locked'],
      ['MSFT', 'break'],
      ['AAPL', 'ok'],
    ]);
    expect(v.find((r) => r.symbol === 'MSFT')?.computed_break).toBe(3);
    expect(v.find((r) => r.symbol === 'AAPL')?.holders).toEqual([{ strategy_id: 'sma', qty: 10 }]);
    expect(v.find((r) => r.symbol === 'MSFT')?.holders).toEqual([]);
  });
});

describe('strategyExposure', () => {
  it('sums one strategy', () => {
    const e = strategyExposure([pos('a', 'X', 1, 2, 5), pos('a', 'Y', 2, 0, 9), pos('b', 'X', 1, 3, 7)], 'a');
    expect(e.positions).toHaveLength(1);
    expect(e.unrealized).toBe(5);
  });
});
