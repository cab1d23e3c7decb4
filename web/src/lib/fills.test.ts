import { describe, expect, it } from 'vitest';
import type { FillEvent, FillRow } from '../api/types';
import { fillTotals, filterFills, foldFills, splitExecId } from './fills';

const fill = (over: Partial<FillRow>): FillRow => ({
  exec_id: '0001f4e8.6543.01',
  exec_time: '2026-11-23T14:30:00Z',
  order_ref: 'mats:sma_aapl:01J',
  strategy_id: 'sma_aapl',
  con_id: 265598,
  symbol: 'AAPL',
  side: 'BUY',
  qty: 10,
  price: 190.2,
  commission: null,
  currency: 'USD',
  ...over,
});

describe('splitExecId', () => {
  it('splits the revision off like model.split_exec_id', () => {
    expect(splitExecId('0001f4e8.6543.01')).toEqual(['0001f4e8.6543', 1]);
    expect(splitExecId('0001f4e8.6543.02')).toEqual(['0001f4e8.6543', 2]);
    expect(splitExecId('noversion')).toEqual(['noversion', 0]);
    expect(splitExecId('abc.def')).toEqual(['abc.def', 0]);
  });
});

describe('foldFills', () => {
  it('joins a commission that arrives after its fill', () => {
    const rows = foldFills([fill({}), { kind: 'commission', exec_id: '0001f4e8.6543.01', commission: 1.0 }]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ qty: 10, price: 190.2, commission: 1.0 });
  });

  it('joins a commission that arrives before its fill', () => {
    const rows = foldFills([{ kind: 'commission', exec_id: '0001f4e8.6543.01', commission: 0.35 }, fill({})]);
    expect(rows[0]?.commission).toBe(0.35);
  });

  it('lets a correction supersede the earlier revision and keeps the known commission', () => {
    const events: FillEvent[] = [
      fill({ commission: 1.0 }),
      { ...fill({ exec_id: '0001f4e8.6543.02', price: 190.25 }), kind: 'correction' },
    ];
    const rows = foldFills(events);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ exec_id: '0001f4e8.6543.02', price: 190.25, commission: 1.0 });
  });

  it('ignores an older revision arriving late and duplicates of the same execution', () => {
    const rows = foldFills([fill({ exec_id: 'x.02', price: 2 }), fill({ exec_id: 'x.01', price: 1 }), fill({ exec_id: 'x.02', price: 2 })]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.price).toBe(2);
  });

  it('merges a REST snapshot with live events without duplicating, newest first', () => {
    const a = fill({ exec_id: 'a.01', exec_time: '2026-11-23T14:30:00Z', commission: 1 });
    const b = fill({ exec_id: 'b.01', exec_time: '2026-11-23T14:31:00Z', side: 'SELL' });
    const rows = foldFills([a, b, { ...a, kind: 'fill' }, { kind: 'commission', exec_id: 'b.01', commission: 1.1 }]);
    expect(rows.map((r) => r.exec_id)).toEqual(['b.01', 'a.01']);
    expect(rows[0]?.commission).toBe(1.1);
  });
});

describe('filterFills and totals', () => {
  const rows = [
    fill({ exec_id: 'a.01', strategy_id: 's1', symbol: 'AAPL', side: 'BUY', qty: 10, price: 100, commission: 1 }),
    fill({ exec_id: 'b.01', strategy_id: 's2', symbol: 'MSFT', side: 'SELL', qty: 5, price: 400, commission: 2 }),
    fill({ exec_id: 'c.01', strategy_id: 'Discretionary', symbol: 'AAPL', side: 'SELL', qty: 1, price: 101, commission: null }),
  ];
  it('filters by strategy, symbol, side and free text', () => {
    expect(filterFills(rows, { strategy: 's1' }).map((r) => r.exec_id)).toEqual(['a.01']);
    expect(filterFills(rows, { symbol: 'AAPL', side: 'SELL' }).map((r) => r.exec_id)).toEqual(['c.01']);
    expect(filterFills(rows, { text: 'discret' }).map((r) => r.exec_id)).toEqual(['c.01']);
    expect(filterFills(rows, {})).toHaveLength(3);
  });
  it('totals notional by side and commission', () => {
    expect(fillTotals(rows)).toEqual({ bought: 1000, sold: 2101, commission: 3 });
  });
});
