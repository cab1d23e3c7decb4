/** Fold fills (REST rows and stream events: fills, corrections, late commissions) into blotter rows. */
import type { FillEvent, FillRow } from '../api/types';

/** IB execIds end in a revision segment ("0001f4e8.6543.01"); mirrors model.split_exec_id. */
export function splitExecId(execId: string): [string, number] {
  const i = execId.lastIndexOf('.');
  if (i > 0) {
    const last = execId.slice(i + 1);
    if (/^\d+$/.test(last)) return [execId.slice(0, i), Number(last)];
  }
  return [execId, 0];
}

/**
 * One row per execution (base execId): the highest revision wins, a commission joins its execution (by full
 * execId, else by base) even when it arrives first, duplicates are ignored. Newest first.
 */
export function foldFills(events: Iterable<FillEvent>): FillRow[] {
  const rows = new Map<string, { row: FillRow; rev: number }>();
  const commissions = new Map<string, { commission: number; currency: string | undefined }>();
  for (const e of events) {
    if (e.kind === 'commission') {
      commissions.set(e.exec_id, { commission: e.commission, currency: e.currency });
      continue;
    }
    const [base, rev] = splitExecId(e.exec_id);
    const prev = rows.get(base);
    if (prev && prev.rev > rev) continue;
    const { kind: _kind, ...row } = e as FillRow & { kind?: string };
    void _kind;
    // A correction without its own commission keeps the one already known.
    const commission = row.commission ?? (prev && prev.rev <= rev ? prev.row.commission : null);
    rows.set(base, { row: { ...row, commission }, rev });
  }
  const out: FillRow[] = [];
  for (const [base, { row }] of rows) {
    const c = commissions.get(row.exec_id) ?? commissions.get(base);
    out.push(c && row.commission === null ? { ...row, commission: c.commission, currency: c.currency ?? row.currency } : row);
  }
  out.sort((a, b) => (a.exec_time < b.exec_time ? 1 : a.exec_time > b.exec_time ? -1 : 0));
  return out;
}

export interface FillFilter {
  strategy?: string;
  symbol?: string;
  side?: '' | 'BUY' | 'SELL';
  text?: string;
}

export function filterFills(rows: FillRow[], f: FillFilter): FillRow[] {
  const text = f.text?.trim().toLowerCase();
  return rows.filter(
    (r) =>
      (!f.strategy || r.strategy_id === f.strategy) &&
      (!f.symbol || r.symbol === f.symbol) &&
      (!f.side || r.side === f.side) &&
      (!text || `${r.exec_id} ${r.order_ref} ${r.symbol} ${r.strategy_id}`.toLowerCase().includes(text)),
  );
}

/** Notional (qty × price) and totals of a set of fills. */
export function fillTotals(rows: FillRow[]): { bought: number; sold: number; commission: number } {
  let bought = 0;
  let sold = 0;
  let commission = 0;
  for (const r of rows) {
    const n = r.qty * r.price;
    if (r.side === 'BUY') bought += n;
    else sold += n;
    commission += r.commission ?? 0;
  }
  return { bought, sold, commission };
}
