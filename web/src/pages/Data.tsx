import { useMemo, useState } from 'react';
import { api } from '../api/client';
import type { Cell } from '../api/types';
import { Chart } from '../components/Chart';
import { Empty, Panel, Snapshot, Time } from '../components/ui';
import { columnDecimals, isBarTable, rowsToCandles } from '../lib/bars';
import { fmtNum } from '../lib/format';
import { href } from '../lib/router';
import { useApi } from '../lib/useApi';

function CellView({ v, isTime, decimals }: { v: Cell; isTime: boolean; decimals: number | null }) {
  if (v === null) return <span className="muted">null</span>;
  if (isTime && typeof v === 'string') return <Time at={v} />;
  if (typeof v === 'number') return <>{fmtNum(v, decimals ?? 0)}</>;
  return <>{String(v)}</>;
}

const LIMITS = [50, 200, 1000, 5000];

export function DataPage({ lib, symbol }: { lib: string | null; symbol: string | null }) {
  const libs = useApi((s) => api.libraries(s), []);
  const syms = useApi((s) => (lib ? api.symbols(lib, s) : Promise.resolve([])), [lib]);
  const [tail, setTail] = useState(200);
  const [filter, setFilter] = useState('');
  const rows = useApi((s) => (lib && symbol ? api.rows(lib, symbol, { tail }, s) : Promise.resolve(null)), [lib, symbol, tail]);
  const candles = useMemo(() => (rows.data && isBarTable(rows.data) ? rowsToCandles(rows.data) : []), [rows.data]);
  const decimals = useMemo(() => {
    const r = rows.data;
    return r ? Object.fromEntries(r.columns.map((c) => [c, columnDecimals(r.rows, c)])) : {};
  }, [rows.data]);
  const shownSyms = (syms.data ?? []).filter((s) => !filter || s.toLowerCase().includes(filter.toLowerCase()));

  return (
    <div className="page page-data" data-testid="page-data">
      <div className="data-cols">
        <Panel title="Libraries" className="data-list">
          <Snapshot state={libs} isEmpty={(d) => d.length === 0} empty="No ArcticDB libraries.">
            {(ls) => (
              <ul className="list" data-testid="libraries">
                {ls.map((l) => (
                  <li key={l}>
                    <a href={href('data', l)} className={l === lib ? 'active' : undefined} data-testid="library-link">
                      {l}
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </Snapshot>
        </Panel>
        <Panel title={lib ? <span className="id-text">{lib}</span> : 'Symbols'} className="data-list">
          {!lib ? (
            <Empty>Choose a library.</Empty>
          ) : (
            <>
              <input className="list-filter" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="filter…" aria-label="Filter symbols" data-testid="symbol-filter" />
              <Snapshot state={syms} isEmpty={(d) => d.length === 0} empty="No symbols.">
                {() => (
                  <ul className="list" data-testid="symbols">
                    {shownSyms.map((s) => (
                      <li key={s}>
                        <a href={href('data', lib, s)} className={s === symbol ? 'active' : undefined} data-testid="symbol-link">
                          {s}
                        </a>
                      </li>
                    ))}
                  </ul>
                )}
              </Snapshot>
            </>
          )}
        </Panel>
        <div className="data-main">
          {!lib || !symbol ? (
            <Panel title="Preview">
              <Empty>Choose a symbol to preview its rows{lib === 'market_data' ? ' and candles' : ''}.</Empty>
            </Panel>
          ) : (
            <Snapshot state={rows}>
              {(r) =>
                r && (
                  <>
                    {candles.length > 0 && (
                      <Panel title={<span className="id-text">{r.symbol} candles</span>}>
                        <Chart candles={candles} height={260} testid="data-candles" />
                      </Panel>
                    )}
                    <Panel
                      title={
                        <span className="id-text">
                          {r.library}/{r.symbol} — last {r.rows.length} of {r.total_rows} rows
                        </span>
                      }
                      actions={
                        <label className="small">
                          rows{' '}
                          <select value={tail} onChange={(e) => setTail(Number(e.target.value))} data-testid="rows-limit">
                            {LIMITS.map((n) => (
                              <option key={n} value={n}>
                                {n}
                              </option>
                            ))}
                          </select>
                        </label>
                      }
                    >
                      {r.rows.length === 0 ? (
                        <Empty>The symbol is empty.</Empty>
                      ) : (
                        <div className="tbl-scroll tbl-tall">
                          <table className="tbl" data-testid="rows-table">
                            <thead>
                              <tr>
                                {[r.index_name, ...r.columns.filter((c) => c !== r.index_name)].map((c) => (
                                  <th key={c} className={typeof r.rows[0]?.[c] === 'number' ? 'num' : undefined}>
                                    {c}
                                  </th>
                                ))}
                              </tr>
                            </thead>
                            <tbody>
                              {r.rows.map((row, i) => (
                                <tr key={i}>
                                  {[r.index_name, ...r.columns.filter((c) => c !== r.index_name)].map((c) => (
                                    <td key={c} className={typeof row[c] === 'number' ? 'num' : undefined}>
                                      <CellView v={row[c] ?? null} isTime={c === r.index_name} decimals={decimals[c] ?? null} />
                                    </td>
                                  ))}
                                </tr>
                              ))}
                            </tbody>
                          </table>
                        </div>
                      )}
                    </Panel>
                  </>
                )
              }
            </Snapshot>
          )}
        </div>
      </div>
    </div>
  );
}
