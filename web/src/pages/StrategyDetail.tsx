import { useMemo, useState } from 'react';
import { api } from '../api/client';
import type { FillEvent, OrderRow } from '../api/types';
import { Chart } from '../components/Chart';
import { EditStrategyDialog } from '../components/StrategyForms';
import { FillsTable, OrdersTable, PositionsTable } from '../components/Tables';
import { Badge, ConfirmDialog, Empty, ErrorBox, Loading, Money, Panel, Snapshot, Time } from '../components/ui';
import { epochSeconds, fmtPct, instrumentLabel } from '../lib/format';
import { foldFills } from '../lib/fills';
import { mergeOrders } from '../lib/orders';
import { strategyExposure } from '../lib/portfolio';
import { navigate } from '../lib/router';
import { useAction, useApi } from '../lib/useApi';
import { useLive } from '../stream/live';
import { useStartStop } from './Strategies';

export function StrategyDetail({ id }: { id: string }) {
  const v = useLive((s) => s.versions);
  const live = useLive((s) => s.strategies[id]);
  const liveFills = useLive((s) => s.fills);
  const liveOrders = useLive((s) => s.orders);
  const strat = useApi((s) => api.strategy(id, s), [id, v.strategy, v.gap]);
  const portfolio = useApi((s) => api.portfolio(s), [v.position, v.fill, v.gap]);
  const equity = useApi((s) => api.equity({ strategy_id: id }, s), [id, v.fill, v.gap]);
  const fills = useApi((s) => api.fills({ strategy_id: id, limit: 500 }, s), [id, v.gap]);
  const orders = useApi((s) => api.orders({ strategy_id: id, state: 'all', limit: 500 }, s), [id, v.gap]);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const del = useAction(api.deleteStrategy);
  const ss = useStartStop(strat.reload);

  const fillRows = useMemo(
    () => foldFills([...(fills.data ?? []), ...liveFills.filter((f: FillEvent) => f.kind === 'commission' || ('strategy_id' in f && f.strategy_id === id))]),
    [fills.data, liveFills, id],
  );
  const orderRows = useMemo(
    () => mergeOrders(orders.data ?? [], Object.values(liveOrders).filter((o: OrderRow) => o.strategy_id === id)),
    [orders.data, liveOrders, id],
  );
  const exposure = strategyExposure(portfolio.data?.positions ?? [], id);
  const lines = useMemo(
    () =>
      equity.data
        ? [{ name: id, color: '#4aa3ff', points: equity.data.points.map((p) => ({ time: epochSeconds(p.at), value: p.equity })) }]
        : [],
    [equity.data, id],
  );

  return (
    <div className="page" data-testid="page-strategy">
      <div className="crumbs">
        <a href="#/strategies">Strategies</a> / <strong>{id}</strong>
      </div>
      <Snapshot state={strat}>
        {(s) => {
          const status = live?.status ?? s.status;
          const running = ['running', 'starting', 'warming_up'].includes(status);
          return (
            <Panel
              title={
                <>
                  <span className="id-text">{s.strategy_id}</span> <Badge status={status} />
                </>
              }
              actions={
                <>
                  <button
                    type="button"
                    className={`btn-small ${running ? 'btn-danger' : 'btn-go'}`}
                    disabled={ss.busy !== null}
                    onClick={() => void ss.toggle(s, running)}
                    data-testid={running ? 'strategy-stop' : 'strategy-start'}
                  >
                    {running ? 'Stop' : 'Start'}
                  </button>
                  <button type="button" className="btn-small" onClick={() => setEditing(true)} data-testid="strategy-edit">
                    Edit
                  </button>
                  <button type="button" className="btn-small" disabled={running} onClick={() => setDeleting(true)} data-testid="strategy-delete" title={running ? 'Stop it first' : ''}>
                    Delete
                  </button>
                </>
              }
            >
              <ErrorBox error={ss.error} />
              {(live?.error ?? s.error) && <div className="state state-error">{live?.error ?? s.error}</div>}
              <dl className="facts">
                <dt>Class</dt>
                <dd className="mono">{s.cls}</dd>
                <dt>Instruments</dt>
                <dd>{s.symbols.map(instrumentLabel).join(', ')}</dd>
                <dt>Bar size</dt>
                <dd>{s.bar_size}</dd>
                <dt>Client id</dt>
                <dd>{s.client_id ?? '—'}</dd>
                <dt>Allocation</dt>
                <dd>
                  {s.equity !== null && s.equity !== undefined ? (
                    <>
                      explicit <Money v={s.equity} />
                    </>
                  ) : (
                    <>weight {fmtPct(s.target_weight, false, 1)}</>
                  )}
                  {s.resolved_equity ? (
                    <>
                      {' '}
                      (≈ <Money v={s.resolved_equity} />)
                    </>
                  ) : null}
                </dd>
                <dt>Params</dt>
                <dd className="mono">
                  {Object.entries(s.params)
                    .map(([k, val]) => `${k}=${String(val)}`)
                    .join(' · ') || '—'}
                </dd>
                <dt>Unrealized PnL</dt>
                <dd>
                  <Money v={exposure.unrealized} signed colored />
                </dd>
                <dt>Realized PnL</dt>
                <dd>
                  <Money v={s.realized_pnl ?? null} signed colored />
                </dd>
                <dt>Updated</dt>
                <dd>
                  <Time at={s.updated_at} />
                </dd>
              </dl>
              {editing && (
                <EditStrategyDialog
                  strategy={s}
                  onClose={() => setEditing(false)}
                  onSaved={() => {
                    setEditing(false);
                    strat.reload();
                  }}
                />
              )}
              {deleting && (
                <ConfirmDialog
                  title={`Delete ${s.strategy_id}?`}
                  message="Its registration is removed; its fills and history stay in storage."
                  confirmLabel="Delete"
                  danger
                  busy={del.busy}
                  error={del.error}
                  onCancel={() => setDeleting(false)}
                  onConfirm={() =>
                    void del.run(s.strategy_id).then((r) => {
                      if (r !== undefined) navigate('/strategies');
                    })
                  }
                />
              )}
            </Panel>
          );
        }}
      </Snapshot>
      <div className="grid-2">
        <Panel title="Equity" testid="panel-equity">
          {equity.data === undefined ? (
            equity.error ? <ErrorBox error={equity.error} onRetry={equity.reload} /> : <Loading />
          ) : equity.data.points.length === 0 ? (
            <Empty>No equity history yet.</Empty>
          ) : (
            <Chart lines={lines} height={220} testid="equity-chart" />
          )}
        </Panel>
        <Panel title="Positions">
          <Snapshot state={portfolio}>{() => <PositionsTable rows={exposure.positions} />}</Snapshot>
        </Panel>
      </div>
      <Panel title="Orders">
        <Snapshot state={orders}>{() => <OrdersTable rows={orderRows} showStrategy={false} onCancelled={orders.reload} />}</Snapshot>
      </Panel>
      <Panel title="Fills">
        <Snapshot state={fills}>{() => <FillsTable rows={fillRows} showStrategy={false} />}</Snapshot>
      </Panel>
    </div>
  );
}
