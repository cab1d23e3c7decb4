import { useMemo, useState } from 'react';
import { api } from '../api/client';
import { FillsTable, OrdersTable } from '../components/Tables';
import { Money, Panel, Snapshot } from '../components/ui';
import { fillTotals, filterFills, foldFills, type FillFilter } from '../lib/fills';
import { filterOrders, isOpen, mergeOrders } from '../lib/orders';
import { useApi } from '../lib/useApi';
import { useLive } from '../stream/live';

function uniq(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}

export function Blotter() {
  const v = useLive((s) => s.versions);
  const liveFills = useLive((s) => s.fills);
  const liveOrders = useLive((s) => s.orders);
  const fills = useApi((s) => api.fills({ limit: 1000 }, s), [v.gap]);
  const orders = useApi((s) => api.orders({ state: 'all', limit: 1000 }, s), [v.gap]);
  const [f, setF] = useState<FillFilter & { openOnly: boolean }>({ strategy: '', symbol: '', side: '', text: '', openOnly: false });

  const allFills = useMemo(() => foldFills([...(fills.data ?? []), ...liveFills]), [fills.data, liveFills]);
  const allOrders = useMemo(() => mergeOrders(orders.data ?? [], Object.values(liveOrders)), [orders.data, liveOrders]);
  const strategies = uniq([...allFills.map((x) => x.strategy_id), ...allOrders.map((x) => x.strategy_id)]);
  const symbols = uniq([...allFills.map((x) => x.symbol), ...allOrders.map((x) => x.symbol)]);
  const shownFills = filterFills(allFills, f);
  const shownOrders = filterOrders(allOrders, { strategy: f.strategy, symbol: f.symbol, openOnly: f.openOnly }).filter(
    (o) => !f.side || (f.side === 'BUY' ? o.qty > 0 : o.qty < 0),
  );
  const totals = fillTotals(shownFills);
  const open = allOrders.filter(isOpen).length;

  return (
    <div className="page" data-testid="page-blotter">
      <div className="filters" role="search">
        <label>
          Strategy
          <select value={f.strategy} onChange={(e) => setF({ ...f, strategy: e.target.value })} data-testid="filter-strategy">
            <option value="">all</option>
            {strategies.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Symbol
          <select value={f.symbol} onChange={(e) => setF({ ...f, symbol: e.target.value })} data-testid="filter-symbol">
            <option value="">all</option>
            {symbols.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Side
          <select value={f.side} onChange={(e) => setF({ ...f, side: e.target.value as FillFilter['side'] })} data-testid="filter-side">
            <option value="">both</option>
            <option>BUY</option>
            <option>SELL</option>
          </select>
        </label>
        <label>
          Search
          <input value={f.text} onChange={(e) => setF({ ...f, text: e.target.value })} placeholder="exec id, order ref…" data-testid="filter-text" />
        </label>
        <label className="check">
          <input type="checkbox" checked={f.openOnly} onChange={(e) => setF({ ...f, openOnly: e.target.checked })} data-testid="filter-open" />
          open orders only
        </label>
      </div>
      <Panel title={`Orders (${open} open)`} testid="panel-orders">
        <Snapshot state={orders}>{() => <OrdersTable rows={shownOrders} onCancelled={orders.reload} />}</Snapshot>
      </Panel>
      <Panel
        title={`Fills (${shownFills.length})`}
        testid="panel-fills"
        actions={
          <span className="small muted">
            bought <Money v={totals.bought} /> · sold <Money v={totals.sold} /> · commission <Money v={totals.commission} />
          </span>
        }
      >
        <Snapshot state={fills}>{() => <FillsTable rows={shownFills} />}</Snapshot>
      </Panel>
    </div>
  );
}
