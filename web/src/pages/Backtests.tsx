import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { BacktestRequest, BacktestResult, BacktestSummary, Params, StrategyClass } from '../api/types';
import { Chart, lineColor, type ChartLine } from '../components/Chart';
import { ParamsEditor } from '../components/StrategyForms';
import { Badge, Empty, ErrorBox, Field, Loading, Panel, Snapshot, Time } from '../components/ui';
import { fillMarkers, rowsToCandles, STAT_ROWS, statKeys } from '../lib/bars';
import { epochSeconds, fmtMoney, fmtNum, fmtPct } from '../lib/format';
import { navigate } from '../lib/router';
import { useApi } from '../lib/useApi';
import { parseNum, parseParams, paramText, validateCls, validateDate, validateNonNeg } from '../lib/validate';
import { useLive } from '../stream/live';
import { FillsTable } from '../components/Tables';

function fmtStat(key: string, v: number | undefined): string {
  const row = STAT_ROWS.find((r) => r.key === key);
  if (v === undefined) return '—';
  switch (row?.kind) {
    case 'money':
      return fmtMoney(v);
    case 'pct':
      return fmtPct(v);
    case 'int':
      return fmtNum(v, 0);
    default:
      return fmtNum(v, 3);
  }
}

function Progress({ value, status }: { value: number; status: string }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div className={`progress progress-${status}`} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} data-testid="backtest-progress">
      <div className="progress-bar" style={{ width: `${pct}%` }} />
      <span className="progress-label">{status === 'running' || status === 'queued' ? `${pct.toFixed(0)}%` : status}</span>
    </div>
  );
}

function today(offsetDays = 0): string {
  const d = new Date(Date.now() + offsetDays * 86400_000);
  return d.toISOString().slice(0, 10);
}

function BacktestForm({ onCreated }: { onCreated: (r: BacktestSummary) => void }) {
  const classes = useApi<StrategyClass[] | null>(
    (s) => api.strategyClasses(s).catch((e: unknown) => (e instanceof ApiError && (e.status === 404 || e.status === 405) ? null : Promise.reject(e))),
    [],
  );
  const [cls, setCls] = useState('strategies.sma_cross:SmaCross');
  const [symbols, setSymbols] = useState('AAPL');
  const [start, setStart] = useState(today(-30));
  const [end, setEnd] = useState(today());
  const [barSize, setBarSize] = useState('1min');
  const [cash, setCash] = useState('100000');
  const [commission, setCommission] = useState('');
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const defaults: Params = classes.data?.find((c) => c.cls === cls)?.params ?? {};
  const parsed = parseParams(texts, defaults);
  const syms = symbols.split(/[,\s]+/).map((s) => s.trim().toUpperCase()).filter(Boolean);
  const errs: Record<string, string | null> = {
    cls: validateCls(cls),
    symbols: syms.length ? null : 'at least one symbol',
    start: validateDate(start),
    end: validateDate(end) ?? (end < start ? 'before start' : null),
    cash: validateNonNeg(cash),
    commission: commission.trim() ? validateNonNeg(commission) : null,
  };
  const server = error instanceof ApiError && error.field ? { [error.field.replace(/^request\./, '')]: error.message } : {};
  const show = (k: string) => (touched ? errs[k] : null) ?? (server as Record<string, string>)[k];
  const invalid = Object.values(errs).some(Boolean) || Object.keys(parsed.errors).length > 0;

  // Fill the params with the class defaults once the class list arrives.
  useEffect(() => {
    const d = classes.data?.find((x) => x.cls === cls);
    if (d) setTexts((t) => (Object.keys(t).length ? t : Object.fromEntries(Object.entries(d.params).map(([k, v]) => [k, paramText(v)]))));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [classes.data]);

  const pick = (c: string) => {
    setCls(c);
    const d = classes.data?.find((x) => x.cls === c);
    if (d) setTexts(Object.fromEntries(Object.entries(d.params).map(([k, v]) => [k, paramText(v)])));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (invalid) return;
    const body: BacktestRequest = {
      cls,
      symbols: syms,
      start,
      end,
      bar_size: barSize,
      params: parsed.value,
      cash: Number(cash),
      commission: parseNum(commission),
    };
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createBacktest(body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate className="bt-form" data-testid="backtest-form">
      <Field label="Strategy class" error={show('cls')}>
        {classes.data ? (
          <select value={cls} onChange={(e) => pick(e.target.value)} data-testid="bt-cls">
            {!classes.data.some((c) => c.cls === cls) && <option value={cls}>{cls}</option>}
            {classes.data.map((c) => (
              <option key={c.cls} value={c.cls}>
                {c.cls}
              </option>
            ))}
          </select>
        ) : (
          <input value={cls} onChange={(e) => pick(e.target.value)} data-testid="bt-cls" />
        )}
      </Field>
      <Field label="Symbols" error={show('symbols')} hint="market_data/{SYMBOL}_{bar size}">
        <input value={symbols} onChange={(e) => setSymbols(e.target.value)} data-testid="bt-symbols" />
      </Field>
      <div className="form-row">
        <Field label="Start" error={show('start')}>
          <input type="date" value={start} onChange={(e) => setStart(e.target.value)} data-testid="bt-start" />
        </Field>
        <Field label="End" error={show('end')}>
          <input type="date" value={end} onChange={(e) => setEnd(e.target.value)} data-testid="bt-end" />
        </Field>
      </div>
      <div className="form-row">
        <Field label="Bar size">
          <select value={barSize} onChange={(e) => setBarSize(e.target.value)} data-testid="bt-bar-size">
            {['1min', '5min', '15min', '1h', '1d'].map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </Field>
        <Field label="Cash" error={show('cash')}>
          <input value={cash} onChange={(e) => setCash(e.target.value)} inputMode="decimal" data-testid="bt-cash" />
        </Field>
        <Field label="Commission" error={show('commission')} hint="empty: IB-like, 0: none">
          <input value={commission} onChange={(e) => setCommission(e.target.value)} inputMode="decimal" data-testid="bt-commission" />
        </Field>
      </div>
      <ParamsEditor texts={texts} onChange={setTexts} errors={parsed.errors} defaults={defaults} />
      <ErrorBox error={error} />
      <button type="submit" className="btn-primary" disabled={busy} data-testid="bt-run">
        {busy ? 'Submitting…' : 'Run backtest'}
      </button>
    </form>
  );
}

function RunDetail({ id, version }: { id: string; version: number }) {
  const run = useApi<BacktestResult>((s) => api.backtest(id, s), [id, version]);
  const [symbol, setSymbol] = useState<string | null>(null);
  const sym = symbol ?? run.data?.request.symbols[0] ?? null;
  const bars = useApi(
    async (s) => {
      if (!run.data || !sym || run.data.status !== 'done') return null;
      const r = run.data.request;
      return api.rows('market_data', `${sym}_${r.bar_size}`, { start: r.start, end: r.end, limit: 20000 }, s);
    },
    [run.data?.run_id, run.data?.status, sym],
  );
  const candles = useMemo(() => (bars.data ? rowsToCandles(bars.data) : []), [bars.data]);
  const markers = useMemo(
    () => (run.data && sym ? fillMarkers(run.data.fills, sym, candles.map((c) => c.time)) : []),
    [run.data, sym, candles],
  );
  const equityLines = useMemo<ChartLine[]>(
    () =>
      run.data ? [{ name: 'Equity', color: '#4aa3ff', points: run.data.equity.map((p) => ({ time: epochSeconds(p.at), value: p.equity })) }] : [],
    [run.data],
  );
  return (
    <Snapshot state={run}>
      {(r) => (
        <div data-testid="backtest-detail">
          <div className="summary-line">
            <strong className="mono">{r.run_id}</strong>
            <Badge status={r.status} />
            <span className="mono small">{r.request.cls}</span>
            <span>{r.request.symbols.join(', ')}</span>
            <span>
              {r.request.start} → {r.request.end} · {r.request.bar_size}
            </span>
          </div>
          {r.error && <div className="state state-error">{r.error}</div>}
          {r.status !== 'done' ? (
            <Empty>Results appear when the run is done.</Empty>
          ) : (
            <>
              <div className="grid-2">
                <div>
                  <h3>Equity</h3>
                  {r.equity.length ? <Chart lines={equityLines} height={220} testid="bt-equity-chart" /> : <Empty>No equity points.</Empty>}
                </div>
                <div>
                  <h3>
                    Price with fills{' '}
                    {r.request.symbols.length > 1 && (
                      <select value={sym ?? ''} onChange={(e) => setSymbol(e.target.value)} aria-label="Symbol" data-testid="bt-price-symbol">
                        {r.request.symbols.map((s) => (
                          <option key={s}>{s}</option>
                        ))}
                      </select>
                    )}
                  </h3>
                  {bars.data === undefined || bars.loading ? (
                    bars.error ? <ErrorBox error={bars.error} onRetry={bars.reload} /> : <Loading what="Loading bars" />
                  ) : bars.error ? (
                    <ErrorBox error={bars.error} onRetry={bars.reload} />
                  ) : candles.length ? (
                    <Chart candles={candles} markers={markers} height={220} testid="bt-price-chart" />
                  ) : (
                    <Empty>No bars for {sym}.</Empty>
                  )}
                </div>
              </div>
              <div className="grid-2">
                <div>
                  <h3>Stats</h3>
                  <table className="tbl tbl-kv" data-testid="bt-stats">
                    <tbody>
                      {statKeys([r]).map((k) => (
                        <tr key={k}>
                          <th>{STAT_ROWS.find((x) => x.key === k)?.label ?? k}</th>
                          <td className="num" data-stat={k}>
                            {fmtStat(k, r.stats?.[k])}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <div>
                  <h3>Fills ({r.fills.length})</h3>
                  <FillsTable
                    limit={200}
                    showStrategy={false}
                    showIds={false}
                    rows={r.fills.map((f, i) => ({
                      exec_id: `${i + 1}`,
                      exec_time: f.at,
                      order_ref: '',
                      strategy_id: f.strategy_id,
                      con_id: 0,
                      symbol: f.symbol,
                      side: f.side,
                      qty: f.qty,
                      price: f.price,
                      commission: f.commission,
                      currency: '',
                    }))}
                  />
                </div>
              </div>
            </>
          )}
        </div>
      )}
    </Snapshot>
  );
}

function Compare({ ids, version }: { ids: string[]; version: number }) {
  const runs = useApi((s) => Promise.all(ids.map((id) => api.backtest(id, s))), [ids.join(','), version]);
  return (
    <Snapshot state={runs}>
      {(rs) => {
        const lines: ChartLine[] = rs.map((r, i) => ({
          name: r.run_id.slice(0, 14),
          color: lineColor(i),
          points: r.equity.map((p) => ({ time: epochSeconds(p.at), value: p.equity })),
        }));
        return (
          <div data-testid="bt-compare">
            <Chart lines={lines} height={220} testid="bt-compare-chart" />
            <table className="tbl" data-testid="bt-compare-table">
              <thead>
                <tr>
                  <th>Stat</th>
                  {rs.map((r, i) => (
                    <th key={r.run_id} className="num id-text" style={{ color: lineColor(i) }} title={r.run_id}>
                      {r.run_id.slice(0, 14)}
                      <div className="muted small">
                        {r.request.symbols.join(',')} {Object.entries(r.request.params).map(([k, v]) => `${k}=${String(v)}`).join(' ')}
                      </div>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {statKeys(rs).map((k) => (
                  <tr key={k}>
                    <th>{STAT_ROWS.find((x) => x.key === k)?.label ?? k}</th>
                    {rs.map((r) => (
                      <td key={r.run_id} className="num">
                        {fmtStat(k, r.stats?.[k])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      }}
    </Snapshot>
  );
}

export function Backtests({ selected }: { selected: string | null }) {
  const v = useLive((s) => s.versions);
  const live = useLive((s) => s.backtests);
  const list = useApi((s) => api.backtests(s), [v.backtest, v.gap]);
  const [compare, setCompare] = useState<string[]>([]);
  const select = (id: string) => navigate(`/backtests?run=${encodeURIComponent(id)}`);
  const doneIds = new Set((list.data ?? []).filter((r) => (live[r.run_id]?.status ?? r.status) === 'done').map((r) => r.run_id));
  const selVersion = selected ? (live[selected]?.status === 'done' ? 1 : 0) + (live[selected] ? 1 : 0) : 0;

  return (
    <div className="page" data-testid="page-backtests">
      <div className="grid-2 grid-form">
        <Panel title="New backtest">
          <BacktestForm
            onCreated={(r) => {
              list.reload();
              select(r.run_id);
            }}
          />
        </Panel>
        <Panel title="Runs" testid="panel-runs">
          <Snapshot state={list} isEmpty={(d) => d.length === 0} empty="No backtests yet. Run one with the form.">
            {(runs) => (
              <div className="tbl-scroll tbl-tall">
                <table className="tbl" data-testid="runs-table">
                  <thead>
                    <tr>
                      <th title="compare side by side">Cmp</th>
                      <th>Run</th>
                      <th>Strategy</th>
                      <th>Symbols</th>
                      <th>Created</th>
                      <th>Progress</th>
                      <th className="num">Return</th>
                      <th className="num">Sharpe</th>
                    </tr>
                  </thead>
                  <tbody>
                    {runs.map((r) => {
                      const l = live[r.run_id];
                      const status = l?.status ?? r.status;
                      const progress = l?.progress ?? r.progress;
                      return (
                        <tr key={r.run_id} className={selected === r.run_id ? 'row-selected' : undefined} data-testid="run-row">
                          <td>
                            <input
                              type="checkbox"
                              disabled={!doneIds.has(r.run_id)}
                              checked={compare.includes(r.run_id)}
                              onChange={(e) => setCompare(e.target.checked ? [...compare, r.run_id] : compare.filter((x) => x !== r.run_id))}
                              aria-label={`Compare ${r.run_id}`}
                              data-testid="run-compare"
                            />
                          </td>
                          <td>
                            <a
                              href={`#/backtests?run=${encodeURIComponent(r.run_id)}`}
                              className="mono small"
                              data-testid="run-open"
                            >
                              {r.run_id.slice(0, 12)}
                            </a>
                          </td>
                          <td className="mono small">{r.request.cls.split(':')[1] ?? r.request.cls}</td>
                          <td>{r.request.symbols.join(', ')}</td>
                          <td>
                            <Time at={r.created_at} />
                          </td>
                          <td style={{ minWidth: 110 }}>
                            <Progress value={status === 'done' ? 1 : progress} status={status} />
                          </td>
                          <td className="num">{r.stats ? fmtPct(r.stats.total_return, true) : ''}</td>
                          <td className="num">{r.stats ? fmtNum(r.stats.sharpe, 2) : ''}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </Snapshot>
        </Panel>
      </div>
      {compare.length >= 2 && (
        <Panel
          title={`Side by side (${compare.length})`}
          actions={
            <button type="button" className="btn-small" onClick={() => setCompare([])}>
              Clear
            </button>
          }
        >
          <Compare ids={compare} version={v.backtest} />
        </Panel>
      )}
      {selected ? (
        <Panel title="Run">
          <RunDetail id={selected} version={selVersion} />
        </Panel>
      ) : (
        compare.length < 2 && <Empty>Select a run to see its charts and stats; tick two or more to compare them side by side.</Empty>
      )}
    </div>
  );
}
