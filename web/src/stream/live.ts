/**
 * The live state the stream feeds: a pure reducer (tested without sockets) plus a tiny store that React reads
 * with useSyncExternalStore. Pages fetch REST snapshots and refetch when `versions[type]` changes; the blotter
 * and alerts merge live events directly.
 */
import { useSyncExternalStore } from 'react';
import type {
  AlertEvent,
  BacktestEvent,
  ConnectionEvent,
  Envelope,
  FillEvent,
  LogEvent,
  OrderRow,
  ReconciliationEvent,
  RiskEvent,
  StrategyEvent,
  StreamType,
} from '../api/types';
import type { StreamStatus } from './client';

export interface Alert {
  /** The stream seq (unique), or a synthetic negative id for alerts derived from snapshots. */
  id: number;
  at: string;
  level: string;
  kind: string;
  message: string;
}

export interface LiveState {
  status: StreamStatus;
  statusDetail: string;
  lastSeq: number | null;
  /** Bumped per event type; pages refetch their snapshot when the type they show changes. */
  versions: Record<StreamType | 'gap', number>;
  fills: FillEvent[];
  orders: Record<string, OrderRow>;
  alerts: Alert[];
  connection: Record<number, ConnectionEvent & { at: string }>;
  strategies: Record<string, StrategyEvent>;
  backtests: Record<string, BacktestEvent>;
  killSwitch: boolean | null;
  logs: (LogEvent & { at: string; seq: number })[];
}

export const MAX_FILLS = 2000;
export const MAX_ALERTS = 200;
export const MAX_LOGS = 300;

const zeroVersions = (): LiveState['versions'] => ({
  fill: 0,
  order: 0,
  position: 0,
  reconciliation: 0,
  strategy: 0,
  connection: 0,
  risk: 0,
  alert: 0,
  backtest: 0,
  log: 0,
  gap: 0,
});

export function initialLive(): LiveState {
  return {
    status: 'idle',
    statusDetail: '',
    lastSeq: null,
    versions: zeroVersions(),
    fills: [],
    orders: {},
    alerts: [],
    connection: {},
    strategies: {},
    backtests: {},
    killSwitch: null,
    logs: [],
  };
}

function pushAlert(s: LiveState, a: Alert): Alert[] {
  if (s.alerts.some((x) => x.id === a.id)) return s.alerts;
  return [a, ...s.alerts].slice(0, MAX_ALERTS);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));

/** Alerts a trader must see, derived from any event type. */
export function alertOf(e: Envelope): Alert | null {
  const base = { id: e.seq, at: e.at };
  switch (e.type) {
    case 'alert': {
      const d = e.data as AlertEvent;
      return { ...base, level: str(d.level) || 'warning', kind: str(d.kind) || 'alert', message: str(d.message) };
    }
    case 'risk': {
      const d = e.data as RiskEvent;
      if (d.kind === 'rejected')
        return {
          ...base,
          level: 'warning',
          kind: 'risk_rejection',
          message: `Order rejected${d.strategy_id ? ` for ${d.strategy_id}` : ''}${d.symbol ? ` in ${d.symbol}` : ''}: ${str(d.reason)}`,
        };
      if (d.kind === 'locked')
        return { ...base, level: 'error', kind: 'lock', message: `${str(d.symbol) || d.con_id} locked: ${str(d.reason)}` };
      if (d.kind === 'unlocked')
        return { ...base, level: 'info', kind: 'lock', message: `${str(d.symbol) || d.con_id} unlocked` };
      if (d.kind === 'kill_switch')
        return {
          ...base,
          level: d.engaged ? 'critical' : 'info',
          kind: 'kill_switch',
          message: d.engaged ? `Kill switch engaged${d.reason ? `: ${d.reason}` : ''}` : 'Kill switch released',
        };
      return null;
    }
    case 'connection': {
      const d = e.data as ConnectionEvent;
      // A strategy's client closing without an error is a normal stop; the engine's and recorder's never are.
      const core = d.client_id === 0 || d.client_id === 99 || d.role === 'engine' || d.role === 'recorder';
      if (d.connected || (!core && !d.message)) return null;
      return {
        ...base,
        level: 'error',
        kind: 'disconnect',
        message: `IB client ${d.client_id}${d.role ? ` (${d.role})` : ''} disconnected${d.message ? `: ${d.message}` : ''}`,
      };
    }
    case 'reconciliation': {
      const d = e.data as ReconciliationEvent;
      const breaks = (d.reconciliation ?? []).filter((r) => r.break_qty !== 0 || r.locked);
      if (!breaks.length) return null;
      return {
        ...base,
        level: 'error',
        kind: 'break',
        message: `Reconciliation break: ${breaks.map((r) => `${r.symbol} ${r.break_qty > 0 ? '+' : ''}${r.break_qty}${r.locked ? ' (locked)' : ''}`).join(', ')}`,
      };
    }
    case 'strategy': {
      const d = e.data as StrategyEvent;
      if (d.status !== 'error' && d.status !== 'failed') return null;
      return { ...base, level: 'error', kind: 'strategy_error', message: `${d.strategy_id} stopped: ${str(d.error)}` };
    }
    case 'backtest': {
      const d = e.data as BacktestEvent;
      if (d.status !== 'failed') return null;
      return { ...base, level: 'warning', kind: 'backtest', message: `Backtest ${d.run_id} failed: ${str(d.error)}` };
    }
    default:
      return null;
  }
}

export function reduceLive(s: LiveState, e: Envelope): LiveState {
  const versions = { ...s.versions, [e.type]: s.versions[e.type] + 1 };
  let next: LiveState = { ...s, versions, lastSeq: e.seq };
  switch (e.type) {
    case 'fill':
      next.fills = [...s.fills, e.data as FillEvent].slice(-MAX_FILLS);
      break;
    case 'order': {
      const o = e.data as OrderRow;
      if (o.order_ref) next.orders = { ...s.orders, [o.order_ref]: { ...s.orders[o.order_ref], ...o } };
      break;
    }
    case 'connection': {
      const c = e.data as ConnectionEvent;
      next.connection = { ...s.connection, [c.client_id]: { ...c, at: e.at } };
      break;
    }
    case 'strategy': {
      const d = e.data as StrategyEvent;
      next.strategies = { ...s.strategies, [d.strategy_id]: d };
      break;
    }
    case 'backtest': {
      const d = e.data as BacktestEvent;
      next.backtests = { ...s.backtests, [d.run_id]: d };
      break;
    }
    case 'risk': {
      const d = e.data as RiskEvent;
      if (d.kind === 'kill_switch' && typeof d.engaged === 'boolean') next.killSwitch = d.engaged;
      break;
    }
    case 'log':
      next.logs = [{ ...(e.data as LogEvent), at: e.at, seq: e.seq }, ...s.logs].slice(0, MAX_LOGS);
      break;
    default:
      break;
  }
  const alert = alertOf(e);
  if (alert) next = { ...next, alerts: pushAlert(next, alert) };
  return next;
}

// ---------------------------------------------------------------------------------------------------- store

type Listener = () => void;

export interface LiveStore {
  get: () => LiveState;
  dispatch: (e: Envelope) => void;
  set: (patch: Partial<LiveState>) => void;
  gap: () => void;
  reset: () => void;
  subscribe: (l: Listener) => () => void;
}

export function createLiveStore(): LiveStore {
  let state = initialLive();
  const listeners = new Set<Listener>();
  const emit = () => {
    for (const l of listeners) l();
  };
  return {
    get: () => state,
    dispatch: (e) => {
      state = reduceLive(state, e);
      emit();
    },
    set: (patch) => {
      state = { ...state, ...patch };
      emit();
    },
    gap: () => {
      state = { ...state, versions: { ...state.versions, gap: state.versions.gap + 1 } };
      emit();
    },
    reset: () => {
      state = initialLive();
      emit();
    },
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

export const liveStore = createLiveStore();

export function useLive<T>(select: (s: LiveState) => T): T {
  return useSyncExternalStore(liveStore.subscribe, () => select(liveStore.get()));
}
