import { useMemo, useState } from 'react';
import { api } from '../api/client';
import type { Strategy } from '../api/types';
import { EditStrategyDialog, RegisterStrategyDialog } from '../components/StrategyForms';
import { Badge, ErrorBox, Money, Panel, Snapshot } from '../components/ui';
import { fmtPct, fmtQty, instrumentLabel } from '../lib/format';
import { strategyExposure } from '../lib/portfolio';
import { href } from '../lib/router';
import { useApi } from '../lib/useApi';
import { useLive } from '../stream/live';

const RUNNING = new Set(['running', 'starting', 'warming_up']);
export const isRunning = (status: string): boolean => RUNNING.has(status);

export function useStartStop(reload: () => void) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const toggle = async (s: Strategy, running: boolean) => {
    setBusy(s.strategy_id);
    setError(null);
    try {
      await (running ? api.stopStrategy(s.strategy_id) : api.startStrategy(s.strategy_id));
      reload();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, toggle };
}

export function Strategies() {
  const v = useLive((s) => s.versions);
  const liveStatus = useLive((s) => s.strategies);
  const killed = useLive((s) => s.killSwitch) === true;
  const list = useApi((s) => api.strategies(s), [v.strategy, v.gap]);
  const portfolio = useApi((s) => api.portfolio(s), [v.position, v.fill, v.gap]);
  const [editing, setEditing] = useState<Strategy | null>(null);
  const [registering, setRegistering] = useState(false);
  const ss = useStartStop(list.reload);
  const ccy = portfolio.data?.base_currency ?? '';

  const rows = useMemo(
    () =>
      (list.data ?? []).map((s) => {
        const live = liveStatus[s.strategy_id];
        return { ...s, status: live?.status ?? s.status, error: live?.error ?? s.error };
      }),
    [list.data, liveStatus],
  );

  return (
    <div className="page" data-testid="page-strategies">
      <Panel
        title="Strategies"
        actions={
          <button type="button" className="btn-primary" onClick={() => setRegistering(true)} data-testid="register-open">
            Register…
          </button>
        }
      >
        <ErrorBox error={ss.error} />
        <Snapshot state={list} isEmpty={(d) => d.length === 0} empty="No strategies registered. Register one from a class in strategies/.">
          {() => (
            <table className="tbl" data-testid="strategies-table">
              <thead>
                <tr>
                  <th>Strategy</th>
                  <th>Status</th>
                  <th className="num">Client</th>
                  <th>Instruments</th>
                  <th>Class</th>
                  <th className="num">Weight / equity</th>
                  <th>Position</th>
                  <th className="num">Unreal. PnL {ccy}</th>
                  <th className="num">Daily PnL</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => {
                  const running = RUNNING.has(s.status);
                  const ex = strategyExposure(portfolio.data?.positions ?? [], s.strategy_id);
                  return (
                    <tr key={s.strategy_id} data-testid="strategy-row" data-strategy-id={s.strategy_id}>
                      <td>
                        <a href={href('strategies', s.strategy_id)} data-testid="strategy-link">
                          {s.strategy_id}
                        </a>
                      </td>
                      <td title={s.error ?? ''}>
                        <Badge status={s.status} />
                      </td>
                      <td className="num">{s.client_id ?? '—'}</td>
                      <td>{s.symbols.map(instrumentLabel).join(', ')}</td>
                      <td className="mono small">{s.cls.replace(/^strategies\./, '')}</td>
                      <td className="num">
                        {s.equity !== null && s.equity !== undefined ? (
                          <span title="explicit equity">
                            <Money v={s.equity} />
                          </span>
                        ) : (
                          <span title={s.resolved_equity ? `≈ ${s.resolved_equity.toFixed(2)}` : undefined}>{fmtPct(s.target_weight, false, 1)}</span>
                        )}
                      </td>
                      <td>
                        {ex.positions.length
                          ? ex.positions.map((p) => (
                              <span key={p.con_id} className={`pos-chip ${p.qty > 0 ? 'pos' : 'neg'}`}>
                                {p.symbol} {fmtQty(p.qty, true)}
                              </span>
                            ))
                          : <span className="muted">flat</span>}
                      </td>
                      <td className="num">
                        <Money v={ex.unrealized} signed colored />
                      </td>
                      <td className="num">
                        <Money v={s.daily_pnl ?? null} signed colored />
                      </td>
                      <td className="actions">
                        <button
                          type="button"
                          className={`btn-small ${running ? 'btn-danger' : 'btn-go'}`}
                          disabled={ss.busy === s.strategy_id || s.status === 'stopping' || (!running && killed)}
                          title={!running && killed ? 'Kill switch engaged' : undefined}
                          onClick={() => void ss.toggle(s, running)}
                          data-testid={running ? 'strategy-stop' : 'strategy-start'}
                        >
                          {running ? 'Stop' : 'Start'}
                        </button>
                        <button type="button" className="btn-small" onClick={() => setEditing(s)} data-testid="strategy-edit">
                          Edit
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </Snapshot>
      </Panel>
      {editing && (
        <EditStrategyDialog
          strategy={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
      {registering && (
        <RegisterStrategyDialog
          onClose={() => setRegistering(false)}
          onSaved={() => {
            setRegistering(false);
            list.reload();
          }}
        />
      )}
    </div>
  );
}
