import { useMemo, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { BookingRequest, ReconciliationRow } from '../api/types';
import { PositionCells, StrategyLink } from '../components/Tables';
import { Badge, ErrorBox, Field, Money, Panel, Qty, Snapshot, Time } from '../components/ui';
import { fmtMoney, fmtQty } from '../lib/format';
import { DISCRETIONARY, groupByStrategy, reconRows } from '../lib/portfolio';
import { useAction, useApi } from '../lib/useApi';
import { parseNum } from '../lib/validate';
import { useLive } from '../stream/live';

interface BookingDraft {
  con_id: string;
  strategy_id: string;
  qty: string;
  price: string;
  reason: string;
}

export function validateBooking(d: BookingDraft): Record<string, string> {
  const e: Record<string, string> = {};
  if (!d.con_id) e['con_id'] = 'choose a contract';
  if (!d.strategy_id) e['strategy_id'] = 'choose a strategy or Discretionary';
  const q = parseNum(d.qty);
  if (q === null || Number.isNaN(q) || q === 0) e['qty'] = 'a non-zero number (+ long, − short)';
  const p = parseNum(d.price);
  if (p !== null && (Number.isNaN(p) || p <= 0)) e['price'] = 'a positive number, or empty for the market price';
  if (d.reason.trim().length < 3) e['reason'] = 'say why (journaled with the booking)';
  return e;
}

function BookingForm({
  recon,
  strategies,
  draft,
  setDraft,
  onBooked,
}: {
  recon: ReconciliationRow[];
  strategies: string[];
  draft: BookingDraft;
  setDraft: (d: BookingDraft) => void;
  onBooked: () => void;
}) {
  const [touched, setTouched] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const book = useAction(api.book);
  const errs = validateBooking(draft);
  const server = book.error instanceof ApiError && book.error.field ? { [book.error.field]: book.error.message } : {};
  const show = (k: string) => (touched ? errs[k] : undefined) ?? server[k];
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setDone(null);
    if (Object.keys(errs).length) return;
    const body: BookingRequest = {
      con_id: Number(draft.con_id),
      strategy_id: draft.strategy_id,
      qty: Number(draft.qty),
      price: parseNum(draft.price),
      reason: draft.reason.trim(),
    };
    const r = await book.run(body);
    if (r) {
      setDone(`Booked ${body.qty} ${r.symbol ?? ''} to ${body.strategy_id}.`);
      setTouched(false);
      setDraft({ ...draft, qty: '', price: '', reason: '' });
      onBooked();
    }
  };
  const set = (k: keyof BookingDraft) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <form className="booking" onSubmit={submit} noValidate data-testid="booking-form">
      <Field label="Contract" error={show('con_id')}>
        <select value={draft.con_id} onChange={set('con_id')} data-testid="booking-contract">
          <option value="">— contract —</option>
          {recon.map((r) => (
            <option key={r.con_id} value={r.con_id}>
              {r.symbol} ({r.con_id}){r.break_qty ? ` · break ${r.break_qty}` : ''}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Book to" error={show('strategy_id')}>
        <select value={draft.strategy_id} onChange={set('strategy_id')} data-testid="booking-strategy">
          <option value="">— strategy —</option>
          <option value={DISCRETIONARY}>Discretionary</option>
          {strategies.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </Field>
      <Field label="Qty (signed)" error={show('qty')}>
        <input value={draft.qty} onChange={set('qty')} inputMode="decimal" data-testid="booking-qty" />
      </Field>
      <Field label="Price" error={show('price')} hint="empty: market">
        <input value={draft.price} onChange={set('price')} inputMode="decimal" data-testid="booking-price" />
      </Field>
      <Field label="Reason" error={show('reason')}>
        <input value={draft.reason} onChange={set('reason')} placeholder="e.g. manual hedge placed in TWS" data-testid="booking-reason" />
      </Field>
      <button type="submit" className="btn-primary" disabled={book.busy} data-testid="booking-submit">
        {book.busy ? 'Booking…' : 'Book'}
      </button>
      {!Object.keys(server).length && <ErrorBox error={book.error} />}
      {done && (
        <div className="state state-ok" role="status">
          {done}
        </div>
      )}
    </form>
  );
}

export function PortfolioPage() {
  const v = useLive((s) => s.versions);
  const portfolio = useApi((s) => api.portfolio(s), [v.position, v.reconciliation, v.fill, v.gap]);
  const strategies = useApi((s) => api.strategies(s), [v.strategy]);
  const reconcile = useAction(api.reconcile);
  const [draft, setDraft] = useState<BookingDraft>({ con_id: '', strategy_id: '', qty: '', price: '', reason: '' });

  const groups = useMemo(() => groupByStrategy(portfolio.data?.positions ?? []), [portfolio.data]);
  const recon = useMemo(() => reconRows(portfolio.data?.reconciliation ?? [], portfolio.data?.positions ?? []), [portfolio.data]);
  const ccy = portfolio.data?.base_currency ?? '';

  return (
    <div className="page" data-testid="page-portfolio">
      <Snapshot state={portfolio}>
        {(p) => (
          <>
            <div className="summary-line">
              <span>
                Account <strong>{p.account}</strong>
              </span>
              <span>
                Total equity <strong data-testid="total-equity">{fmtMoney(p.total_equity)}</strong> {ccy}
              </span>
              <span>
                as of <Time at={p.as_of} />
              </span>
            </div>
            <Panel title="Positions by strategy" testid="panel-positions">
              {groups.length === 0 ? (
                <div className="state state-empty">No open positions.</div>
              ) : (
                <table className="tbl" data-testid="positions-table">
                  <thead>
                    <tr>
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
                  {groups.map((g) => (
                    <tbody
                      key={g.strategy_id}
                      className={g.strategy_id === DISCRETIONARY ? 'group-discretionary' : undefined}
                      data-testid={`group-${g.strategy_id}`}
                    >
                      <tr className="group-row">
                        <td colSpan={5}>
                          <StrategyLink id={g.strategy_id} />
                          {g.strategy_id === DISCRETIONARY && (
                            <span className="muted small"> — not placed by MATS (TWS, other programs) or booked by an operator</span>
                          )}
                        </td>
                        <td className="num">
                          <Money v={g.market_value} />
                        </td>
                        <td className="num">
                          <Money v={g.unrealized_pnl} signed colored />
                        </td>
                        <td />
                      </tr>
                      {g.positions.map((p) => (
                        <tr key={`${p.strategy_id}:${p.con_id}`} data-testid="position-row" data-strategy-id={p.strategy_id} data-symbol={p.symbol}>
                          <PositionCells p={p} symbolClass="indent" />
                        </tr>
                      ))}
                    </tbody>
                  ))}
                </table>
              )}
            </Panel>
            <Panel
              title="Reconciliation (per contract)"
              testid="panel-recon"
              actions={
                <button
                  type="button"
                  className="btn-primary"
                  disabled={reconcile.busy}
                  onClick={() => void reconcile.run().then(() => portfolio.reload())}
                  data-testid="reconcile"
                >
                  {reconcile.busy ? 'Reconciling…' : 'Reconcile'}
                </button>
              }
            >
              <ErrorBox error={reconcile.error} />
              {recon.length === 0 ? (
                <div className="state state-empty">Nothing to reconcile: no positions at IB or in MATS.</div>
              ) : (
                <table className="tbl" data-testid="recon-table">
                  <thead>
                    <tr>
                      <th>Symbol</th>
                      <th className="num">Con id</th>
                      <th className="num">IB net</th>
                      <th className="num">Attributed</th>
                      <th className="num">Discretionary</th>
                      <th className="num">Break</th>
                      <th>Status</th>
                      <th>Held by</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {recon.map((r) => (
                      <tr key={r.con_id} className={r.status !== 'ok' ? 'row-bad' : undefined} data-testid="recon-row" data-symbol={r.symbol}>
                        <td>{r.symbol}</td>
                        <td className="num muted">{r.con_id}</td>
                        <td className="num" data-col="ib">
                          <Qty v={r.ib_qty} signed />
                        </td>
                        <td className="num" data-col="attributed">
                          <Qty v={r.attributed_qty} signed />
                        </td>
                        <td className="num" data-col="discretionary">
                          <Qty v={r.discretionary_qty} signed />
                        </td>
                        <td className="num" data-col="break">
                          <strong className={r.break_qty ? 'neg' : 'muted'}>{fmtQty(r.break_qty, true)}</strong>
                        </td>
                        <td>
                          <Badge status={r.status} label={r.status === 'locked' ? 'LOCKED' : r.status} />
                        </td>
                        <td className="small">{r.holders.map((h) => `${h.strategy_id} ${h.qty}`).join(', ')}</td>
                        <td>
                          {r.break_qty !== 0 && (
                            <button
                              type="button"
                              className="btn-small"
                              onClick={() => setDraft({ ...draft, con_id: String(r.con_id), qty: String(r.break_qty), strategy_id: draft.strategy_id || DISCRETIONARY })}
                              data-testid="book-break"
                            >
                              Book…
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Panel>
            <Panel title="Book a position (balance booking)" testid="panel-booking">
              <BookingForm
                recon={p.reconciliation}
                strategies={(strategies.data ?? []).map((s) => s.strategy_id)}
                draft={draft}
                setDraft={setDraft}
                onBooked={portfolio.reload}
              />
            </Panel>
          </>
        )}
      </Snapshot>
    </div>
  );
}
