/** Shaping of `GET /api/portfolio` for the tables: positions grouped by strategy, reconciliation rows. */
import type { PortfolioPosition, ReconciliationRow } from '../api/types';

export const DISCRETIONARY = 'Discretionary';

export interface StrategyGroup {
  strategy_id: string;
  positions: PortfolioPosition[];
  market_value: number;
  unrealized_pnl: number;
}

/** Positions grouped by strategy, strategies alphabetically with Discretionary last; flat positions dropped. */
export function groupByStrategy(positions: PortfolioPosition[], keepFlat = false): StrategyGroup[] {
  const m = new Map<string, StrategyGroup>();
  for (const p of positions) {
    if (!keepFlat && p.qty === 0) continue;
    let g = m.get(p.strategy_id);
    if (!g) {
      g = { strategy_id: p.strategy_id, positions: [], market_value: 0, unrealized_pnl: 0 };
      m.set(p.strategy_id, g);
    }
    g.positions.push(p);
    g.market_value += p.market_value ?? 0;
    g.unrealized_pnl += p.unrealized_pnl ?? 0;
  }
  const groups = [...m.values()];
  for (const g of groups) g.positions.sort((a, b) => a.symbol.localeCompare(b.symbol));
  return groups.sort((a, b) =>
    a.strategy_id === DISCRETIONARY ? 1 : b.strategy_id === DISCRETIONARY ? -1 : a.strategy_id.localeCompare(b.strategy_id),
  );
}

export interface ReconView extends ReconciliationRow {
  /** ib − attributed − discretionary, recomputed to cross-check the server's break_qty. */
  computed_break: number;
  status: 'ok' | 'break' | 'locked';
  /** Strategies holding this contract, with their qty. */
  holders: { strategy_id: string; qty: number }[];
}

const EPS = 1e-9;

/** Reconciliation rows with status, breaks and locked contracts first, then by symbol. */
export function reconRows(rows: ReconciliationRow[], positions: PortfolioPosition[] = []): ReconView[] {
  const holders = new Map<number, { strategy_id: string; qty: number }[]>();
  for (const p of positions) {
    if (p.qty === 0 || p.strategy_id === DISCRETIONARY) continue;
    const l = holders.get(p.con_id) ?? [];
    l.push({ strategy_id: p.strategy_id, qty: p.qty });
    holders.set(p.con_id, l);
  }
  const view = rows.map((r): ReconView => {
    const computed = r.ib_qty - r.attributed_qty - r.discretionary_qty;
    const status = r.locked ? 'locked' : Math.abs(r.break_qty) > EPS ? 'break' : 'ok';
    return { ...r, computed_break: computed, status, holders: holders.get(r.con_id) ?? [] };
  });
  const rank = { locked: 0, break: 1, ok: 2 } as const;
  return view.sort((a, b) => rank[a.status] - rank[b.status] || a.symbol.localeCompare(b.symbol));
}

/** Net position and unrealized PnL of one strategy. */
export function strategyExposure(positions: PortfolioPosition[], strategyId: string): {
  positions: PortfolioPosition[];
  unrealized: number;
  value: number;
} {
  const ps = positions.filter((p) => p.strategy_id === strategyId && p.qty !== 0);
  return {
    positions: ps,
    unrealized: ps.reduce((s, p) => s + (p.unrealized_pnl ?? 0), 0),
    value: ps.reduce((s, p) => s + (p.market_value ?? 0), 0),
  };
}
