/** Merge REST orders with live `order` events; what is open; filters. */
import type { OrderRow } from '../api/types';

const DONE = new Set(['Filled', 'Cancelled', 'Rejected', 'ApiCancelled', 'Inactive']);

export function isOpen(o: OrderRow): boolean {
  return !DONE.has(o.state);
}

/** Later wins per order_ref (live events over the snapshot); newest first. */
export function mergeOrders(snapshot: OrderRow[], live: Iterable<OrderRow>): OrderRow[] {
  const m = new Map<string, OrderRow>();
  for (const o of snapshot) m.set(o.order_ref, o);
  for (const o of live) {
    const prev = m.get(o.order_ref);
    m.set(o.order_ref, prev ? { ...prev, ...o } : o);
  }
  return [...m.values()].sort((a, b) => ((a.at ?? '') < (b.at ?? '') ? 1 : (a.at ?? '') > (b.at ?? '') ? -1 : 0));
}

export interface OrderFilter {
  strategy?: string;
  symbol?: string;
  openOnly?: boolean;
}

export function filterOrders(rows: OrderRow[], f: OrderFilter): OrderRow[] {
  return rows.filter(
    (o) =>
      (!f.strategy || o.strategy_id === f.strategy) &&
      (!f.symbol || o.symbol === f.symbol) &&
      (!f.openOnly || isOpen(o)),
  );
}
