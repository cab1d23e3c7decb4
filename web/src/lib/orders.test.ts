import { describe, expect, it } from 'vitest';
import type { OrderRow } from '../api/types';
import { filterOrders, isOpen, mergeOrders } from './orders';

const o = (order_ref: string, state: string, at: string, over: Partial<OrderRow> = {}): OrderRow => ({
  order_ref, strategy_id: 's1', symbol: 'AAPL', state, qty: 10, filled: 0, remaining: 10, avg_fill_price: 0, at, ...over,
});

describe('orders', () => {
  it('knows open from done', () => {
    expect(isOpen(o('a', 'Submitted', ''))).toBe(true);
    expect(isOpen(o('a', 'PartiallyFilled', ''))).toBe(true);
    expect(isOpen(o('a', 'PendingSubmit', ''))).toBe(true);
    expect(isOpen(o('a', 'Filled', ''))).toBe(false);
    expect(isOpen(o('a', 'Cancelled', ''))).toBe(false);
    expect(isOpen(o('a', 'Rejected', ''))).toBe(false);
  });
  it('lets live events update the snapshot by order_ref, newest first', () => {
    const merged = mergeOrders(
      [o('a', 'Submitted', '2026-01-01T10:00:00Z', { limit_price: 195.5 }), o('b', 'Filled', '2026-01-01T09:00:00Z')],
      [o('a', 'Cancelled', '2026-01-01T10:05:00Z'), o('c', 'Submitted', '2026-01-01T10:01:00Z', { strategy_id: 's2' })],
    );
    expect(merged.map((x) => [x.order_ref, x.state])).toEqual([
      ['a', 'Cancelled'],
      ['c', 'Submitted'],
      ['b', 'Filled'],
    ]);
    expect(merged[0]?.limit_price).toBe(195.5);
    expect(filterOrders(merged, { openOnly: true }).map((x) => x.order_ref)).toEqual(['c']);
    expect(filterOrders(merged, { strategy: 's1' }).map((x) => x.order_ref)).toEqual(['a', 'b']);
  });
});
