import { useMemo } from 'react';
import { api } from '../api/client';
import { clientUp, type ClientStatus, type ConnectionState, type Health, type Portfolio } from '../api/types';
import { Chart, type ChartLine } from '../components/Chart';
import { Badge, Dot, Empty, ErrorBox, Loading, Money, Panel, Snapshot, Time, type Tone } from '../components/ui';
import { epochSeconds, fmtMoney, signClass } from '../lib/format';
import { useAction, useApi } from '../lib/useApi';
import { liveStore, useLive, type Alert, type LiveState } from '../stream/live';

const ROLE_LABEL: Record<string, string> = { engine: 'engine', recorder: 'recorder (master)', strategy: 'strategy' };

const STATE_TONE: Record<string, Tone> = { connected: 'ok', held: 'warn', connecting: 'warn', disconnected: 'bad', stopped: 'unknown' };

/** Snapshot clients overlaid with live connection events. */
export function mergeClients(snapshot: ClientStatus[], live: LiveState['connection']): ClientStatus[] {
  const m = new Map<number, ClientStatus>();
  for (const c of snapshot) m.set(c.client_id, c);
  for (const c of Object.values(live)) {
    const prev = m.get(c.client_id);
    m.set(c.client_id, {
      ...prev,
      client_id: c.client_id,
      role: prev?.role ?? c.role ?? (c.client_id === 0 ? 'engine' : c.client_id === 99 ? 'recorder' : 'strategy'),
      strategy_ids: prev?.strategy_ids ?? [],
      state: c.connected ? (prev?.state === 'held' ? 'held' : 'connected') : 'disconnected',
      connected: c.connected,
      since: c.at,
      last_error: c.connected ? (prev?.last_error ?? null) : (c.message ?? prev?.last_error ?? null),
    });
  }
  const rank = (id: number) => (id === 0 ? -2 : id === 99 ? -1 : id);
  return [...m.values()].sort((a, b) => rank(a.client_id) - rank(b.client_id));
}

/** Alerts implied by snapshots (breaks, locks, disconnected clients, degraded storage), for a fresh page. */
export function snapshotAlerts(p: Portfolio | undefined, c: ConnectionState | undefined, h: Health | undefined): Alert[] {
  const out: Alert[] = [];
  let id = -1;
  const at = p?.as_of ?? new Date().toISOString();
  for (const r of p?.reconciliation ?? []) {
    if (r.locked) out.push({ id: id--, at, level: 'error', kind: 'lock', message: `${r.symbol} locked: break ${r.break_qty}` });
    else if (r.break_qty !== 0) out.push({ id: id--, at, level: 'error', kind: 'break', message: `${r.symbol}: break ${r.break_qty}` });
  }
  for (const cl of c?.clients ?? []) {
    // A stopped strategy's client is expectedly down; the engine (0), the recorder (99) and errors are not.
    const core = cl.client_id === 0 || cl.client_id === 99 || cl.role === 'engine' || cl.role === 'recorder';
    if (cl.state === 'held')
      out.push({ id: id--, at: cl.since ?? at, level: 'error', kind: 'disconnect', message: `IB client ${cl.client_id}: IB lost connectivity (1100), orders held` });
    else if (!clientUp(cl) && cl.state !== 'stopped' && (core || cl.last_error))
      out.push({
        id: id--,
        at: cl.since ?? at,
        level: 'error',
        kind: 'disconnect',
        message: `IB client ${cl.client_id} (${cl.role}) disconnected${cl.last_error ? `: ${cl.last_error}` : ''}`,
      });
  }
  if (h?.storage === 'degraded') out.push({ id: id--, at, level: 'error', kind: 'storage_degraded', message: 'Storage degraded' });
  return out;
}

export function AlertList({ alerts }: { alerts: Alert[] }) {
  if (!alerts.length) return <Empty>No alerts. Breaks, locks, disconnects, risk rejections and storage problems show here.</Empty>;
  return (
    <ul className="alerts" data-testid="alerts">
      {alerts.map((a) => (
        <li key={a.id} className={`alert alert-${a.level}`}>
          <Time at={a.at} />
          <span className="alert-kind">{a.kind.replace(/_/g, ' ')}</span>
          <span className="alert-msg">{a.message}</span>
        </li>
      ))}
    </ul>
  );
}

export function Overview() {
  const v = useLive((s) => s.versions);
  const live = useLive((s) => s.connection);
  const liveAlerts = useLive((s) => s.alerts);
  const conn = useApi((s) => api.connection(s), [v.connection, v.gap]);
  const portfolio = useApi((s) => api.portfolio(s), [v.position, v.reconciliation, v.fill, v.gap]);
  const equity = useApi((s) => api.equity({}, s), [v.fill, v.gap]);
  const health = useApi((s) => api.health(s), [v.alert, v.risk]);
  const connect = useAction(api.connect);
  const disconnect = useAction(api.disconnect);

  const strategies = useApi((s) => api.strategies(s), [v.strategy]);
  const clients = useMemo(() => {
    // Which strategies trade through each client, from the strategies' client_id when the API does not say.
    const byClient = new Map<number, string[]>();
    for (const st of strategies.data ?? []) {
      if (st.client_id === null || st.client_id === undefined) continue;
      byClient.set(st.client_id, [...(byClient.get(st.client_id) ?? []), st.strategy_id]);
    }
    return mergeClients(conn.data?.clients ?? [], live).map((c) =>
      c.strategy_ids?.length ? c : { ...c, strategy_ids: byClient.get(c.client_id) ?? [] },
    );
  }, [conn.data, live, strategies.data]);
  const showSince = clients.some((c) => c.since);
  const alerts = useMemo(
    () => [...liveAlerts, ...snapshotAlerts(portfolio.data, conn.data, health.data)],
    [liveAlerts, portfolio.data, conn.data, health.data],
  );
  const lines = useMemo<ChartLine[]>(
    () =>
      equity.data
        ? [{ name: 'Equity', color: '#4aa3ff', points: equity.data.points.map((p) => ({ time: epochSeconds(p.at), value: p.equity })) }]
        : [],
    [equity.data],
  );
  const daily = portfolio.data?.daily_pnl ?? equity.data?.daily_pnl ?? null;
  const ccy = portfolio.data?.base_currency ?? 'USD';
  const breaks = portfolio.data?.reconciliation.filter((r) => r.break_qty !== 0 || r.locked).length ?? 0;

  return (
    <div className="page page-overview" data-testid="page-overview">
      <div className="kpis">
        <div className="kpi" data-testid="kpi-equity">
          <div className="kpi-label">Account equity ({ccy})</div>
          <div className="kpi-value">{portfolio.data ? fmtMoney(portfolio.data.total_equity) : portfolio.error ? '—' : '…'}</div>
          <div className="kpi-sub">
            {portfolio.data?.account} {portfolio.data && <Time at={portfolio.data.as_of} timeOnly />}
          </div>
        </div>
        <div className="kpi" data-testid="kpi-daily-pnl">
          <div className="kpi-label">Daily PnL ({ccy})</div>
          <div className={`kpi-value ${signClass(daily)}`}>{daily === null ? '—' : fmtMoney(daily, true)}</div>
          <div className="kpi-sub">since the daily reset</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">Positions</div>
          <div className="kpi-value">{portfolio.data ? portfolio.data.positions.filter((p) => p.qty !== 0).length : '…'}</div>
          <div className="kpi-sub">
            {breaks ? <span className="neg">{breaks} break{breaks > 1 ? 's' : ''}</span> : 'reconciled'}
          </div>
        </div>
        <div className="kpi">
          <div className="kpi-label">IB</div>
          <div className="kpi-value">
            {conn.data ? <Badge status={conn.data.connected ? 'connected' : 'disconnected'} /> : '…'}
          </div>
          <div className="kpi-sub">{conn.data ? `${conn.data.host}:${conn.data.port}` : ''}</div>
        </div>
      </div>
      <ErrorBox error={portfolio.error} onRetry={portfolio.reload} />

      <div className="grid-2">
        <Panel
          title="Connections"
          testid="panel-connections"
          actions={
            conn.data && (
              <>
                <button
                  type="button"
                  className="btn-small"
                  disabled={connect.busy || conn.data.connected}
                  onClick={() => void connect.run().then(() => conn.reload())}
                  data-testid="connect"
                >
                  Connect
                </button>
                <button
                  type="button"
                  className="btn-small"
                  disabled={disconnect.busy || !conn.data.connected}
                  onClick={() => void disconnect.run().then(() => conn.reload())}
                  data-testid="disconnect"
                >
                  Disconnect
                </button>
              </>
            )
          }
        >
          <ErrorBox error={connect.error ?? disconnect.error} />
          <Snapshot state={conn} isEmpty={() => clients.length === 0} empty="No IB clients.">
            {() => (
              <table className="tbl" data-testid="clients-table">
                <thead>
                  <tr>
                    <th className="num">Client</th>
                    <th>Role</th>
                    <th>Strategies</th>
                    <th>Status</th>
                    {showSince && <th>Since</th>}
                    <th className="num">Connects</th>
                    <th>Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {clients.map((c) => (
                    <tr key={c.client_id}>
                      <td className="num">{c.client_id}</td>
                      <td>{ROLE_LABEL[c.role] ?? c.role}</td>
                      <td>{(c.strategy_ids ?? []).join(', ') || '—'}</td>
                      <td title={c.stale_farms?.length ? `stale farms: ${c.stale_farms.join(', ')}` : undefined}>
                        <Dot
                          tone={STATE_TONE[c.state ?? ''] ?? (clientUp(c) ? 'ok' : 'bad')}
                          label={`${c.state ?? (clientUp(c) ? 'connected' : 'disconnected')}${c.stale_farms?.length ? ' · stale data' : ''}`}
                        />
                      </td>
                      {showSince && <td>{c.since ? <Time at={c.since} timeOnly /> : <span className="muted">—</span>}</td>}
                      <td className="num">{c.connects ?? '—'}</td>
                      <td className="ellipsis" title={c.last_error ?? ''}>
                        {c.last_error ?? ''}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Snapshot>
        </Panel>
        <Panel
          title={`Alerts${alerts.length ? ` (${alerts.length})` : ''}`}
          testid="panel-alerts"
          actions={
            liveAlerts.length > 0 && (
              <button type="button" className="btn-small" onClick={() => liveStore.set({ alerts: [] })} data-testid="clear-alerts">
                Clear
              </button>
            )
          }
        >
          <AlertList alerts={alerts} />
        </Panel>
      </div>

      <Panel title={`Equity (${ccy})`} testid="panel-equity">
        {equity.data === undefined ? (
          equity.error ? (
            <ErrorBox error={equity.error} onRetry={equity.reload} />
          ) : (
            <Loading />
          )
        ) : equity.data.points.length === 0 ? (
          <Empty>No equity history yet.</Empty>
        ) : (
          <Chart lines={lines} height={240} testid="equity-chart" />
        )}
        {portfolio.data && (
          <div className="muted small">
            Total <Money v={portfolio.data.total_equity} /> {ccy}
          </div>
        )}
      </Panel>
    </div>
  );
}
