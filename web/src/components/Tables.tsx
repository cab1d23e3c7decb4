/** Blotter tables shared by Orders & Fills and the strategy page. */
import { useState } from 'react';
import { api } from '../api/client';
import type { FillRow, OrderRow, PortfolioPosition } from '../api/types';
import { fmtPrice, sideOf } from '../lib/format';
import { isOpen } from '../lib/orders';
import { href } from '../lib/router';
import { Badge, Empty, ErrorBox, Money, Price, Qty, SideTag, Time } from './ui';

export function FillsTable({
  rows,
  showStrategy = true,
  showIds = true,
  limit = 500,
}: {
  rows: FillRow[];
  showStrategy?: boolean;
  showIds?: boolean;
  limit?: number;
}) {
  if (!rows.length) return <Empty>No fills.</Empty>;
  return (
    <div className="tbl-scroll">
      <table className="tbl" data-testid="fills-table">
        <thead>
          <tr>
            <th>Time</th>
            {showStrategy && <th>Strategy</th>}
            <th>Symbol</th>
            <th>Side</th>
            <th className="num">Qty</th>
            <th className="num">Price</th>
            <th className="num">Commission</th>
            {showIds && <th>Ccy</th>}
            {showIds && <th>Exec id</th>}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, limit).map((f) => (
            <tr key={f.exec_id} data-testid="fill-row" data-exec-id={f.exec_id}>
              <td>
                <Time at={f.exec_time} />
              </td>
              {showStrategy && (
                <td>
                  <StrategyLink id={f.strategy_id} />
                </td>
              )}
              <td>{f.symbol}</td>
              <td>
                <SideTag side={f.side} />
              </td>
              <td className="num" data-col="qty">
                <Qty v={f.qty} />
              </td>
              <td className="num" data-col="price">
                <Price v={f.price} />
              </td>
              <td className="num" data-col="commission">
                {f.commission === null ? <span className="muted" title="commission report not received yet">pending</span> : <Money v={f.commission} />}
              </td>
              {showIds && <td>{f.currency}</td>}
              {showIds && <td className="mono small">{f.exec_id}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > limit && <div className="muted small">Showing {limit} of {rows.length}.</div>}
    </div>
  );
}

export function StrategyLink({ id }: { id: string }) {
  if (id === 'Discretionary') return <span className="discretionary">Discretionary</span>;
  return <a href={href('strategies', id)}>{id}</a>;
}

export function OrdersTable({
  rows,
  showStrategy = true,
  onCancelled,
}: {
  rows: OrderRow[];
  showStrategy?: boolean;
  onCancelled?: () => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  if (!rows.length) return <Empty>No orders.</Empty>;
  const cancel = async (ref: string) => {
    setBusy(ref);
    setError(null);
    try {
      await api.cancelOrder(ref);
      onCancelled?.();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="tbl-scroll">
      <ErrorBox error={error} />
      <table className="tbl" data-testid="orders-table">
        <thead>
          <tr>
            <th>Time</th>
            {showStrategy && <th>Strategy</th>}
            <th>Symbol</th>
            <th>Side</th>
            <th className="num">Qty</th>
            <th>Type</th>
            <th className="num">Limit</th>
            <th className="num">Filled</th>
            <th className="num">Avg price</th>
            <th>State</th>
            <th>Order ref</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((o) => (
            <tr key={o.order_ref} data-testid="order-row" data-order-ref={o.order_ref}>
              <td>
                <Time at={o.at} />
              </td>
              {showStrategy && (
                <td>
                  <StrategyLink id={o.strategy_id} />
                </td>
              )}
              <td>{o.symbol}</td>
              <td>
                <SideTag side={sideOf(o.qty)} />
              </td>
              <td className="num">
                <Qty v={Math.abs(o.qty)} />
              </td>
              <td>
                {o.order_type ?? 'MKT'} {o.tif ?? ''}
              </td>
              <td className="num">{o.limit_price ? fmtPrice(o.limit_price) : o.stop_price ? `stp ${fmtPrice(o.stop_price)}` : ''}</td>
              <td className="num">
                <Qty v={o.filled} />
              </td>
              <td className="num">{o.filled ? <Price v={o.avg_fill_price} /> : ''}</td>
              <td title={o.reason ?? ''}>
                <Badge status={o.state} />
                {o.reason ? <span className="muted small"> {o.reason}</span> : null}
              </td>
              <td className="mono small ellipsis" title={o.order_ref}>
                {o.order_ref}
              </td>
              <td>
                {isOpen(o) && (
                  <button
                    type="button"
                    className="btn-small btn-danger"
                    disabled={busy === o.order_ref}
                    onClick={() => void cancel(o.order_ref)}
                    data-testid="cancel-order"
                    aria-label={`Cancel order ${o.order_ref}`}
                  >
                    {busy === o.order_ref ? '…' : 'Cancel'}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One position's cells after the strategy column: shared by this table and the portfolio's grouped one. */
export function PositionCells({ p, symbolClass }: { p: PortfolioPosition; symbolClass?: string }) {
  return (
    <>
      <td className={symbolClass}>{p.symbol}</td>
      <td className="num muted">{p.con_id}</td>
      <td className="num" data-col="qty">
        <Qty v={p.qty} signed />
      </td>
      <td className="num">
        <Price v={p.avg_cost} />
      </td>
      <td className="num">
        <Price v={p.market_price} />
      </td>
      <td className="num">
        <Money v={p.market_value} />
      </td>
      <td className="num">
        <Money v={p.unrealized_pnl} signed colored />
      </td>
      <td>{p.currency}</td>
    </>
  );
}

export function PositionsTable({ rows, showStrategy = false }: { rows: PortfolioPosition[]; showStrategy?: boolean }) {
  if (!rows.length) return <Empty>Flat.</Empty>;
  return (
    <table className="tbl" data-testid="positions-table">
      <thead>
        <tr>
          {showStrategy && <th>Strategy</th>}
          <th>Symbol</th>
          <th className="num">Con id</th>
          <th className="num">Qty</th>
          <th className="num">Avg cost</th>
          <th className="num">Mkt price</th>
          <th className="num">Mkt value</th>
          <th className="num">Unreal. PnL</th>
          <th>Ccy</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((p) => (
          <tr key={`${p.strategy_id}:${p.con_id}`} data-testid="position-row" className={p.strategy_id === 'Discretionary' ? 'row-discretionary' : undefined}>
            {showStrategy && (
              <td>
                <StrategyLink id={p.strategy_id} />
              </td>
            )}
            <PositionCells p={p} />
          </tr>
        ))}
      </tbody>
    </table>
  );
}
