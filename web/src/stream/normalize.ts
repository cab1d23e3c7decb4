/**
 * Stream `data` as the engine publishes it (the event Structs of `src/mats/messages.py`, encoded by msgspec)
 * → the flat shapes the UI uses (`src/api/types.ts`). Both are accepted, so the UI keeps working whichever
 * side moves first:
 *   fill         OrderFilled {fill: Fill}  |  CommissionCharged {exec_id, strategy_id, commission, currency}
 *   order        OrderStatusChanged {status: OrderStatus}
 *   position     PositionChanged {position: Position}
 *   strategy     StrategyStatusChanged {strategy_id, status, reason}
 *   connection   ConnectionChanged {client_id, role, connected, detail}
 *   risk         RiskRejected {strategy_id, symbol, reason}
 *   alert        AlertRaised {kind, message, data} | ActorFailed {actor, error, action} | ActorStopped {actor, reason}
 *   log          LoopLagMeasured {lag_ms, at} and others
 */
import type { Envelope } from '../api/types';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Alert kinds the engine raises, and how loud each is. */
const ALERT_LEVEL: Record<string, string> = {
  break: 'error',
  lock: 'error',
  disconnect: 'error',
  degraded_storage: 'error',
  storage_degraded: 'error',
  risk_rejection: 'warning',
  loop_lag: 'warning',
  actor_failed: 'error',
  actor_stopped: 'warning',
  kill_switch: 'critical',
};

export function alertLevel(kind: string): string {
  return ALERT_LEVEL[kind] ?? 'warning';
}

export function normalizeData(type: Envelope['type'], raw: unknown): unknown {
  const d: Obj = isObj(raw) ? raw : {};
  switch (type) {
    case 'fill':
      if (isObj(d['fill'])) return { ...d['fill'], kind: 'fill' };
      if (d['kind'] === undefined && typeof d['commission'] === 'number' && d['price'] === undefined)
        return { kind: 'commission', exec_id: str(d['exec_id']), commission: d['commission'], currency: str(d['currency']) || undefined };
      return d;
    case 'order':
      return isObj(d['status']) ? d['status'] : d;
    case 'position':
      return isObj(d['position']) ? d['position'] : d;
    case 'strategy': {
      const status = str(d['status']);
      const reason = str(d['reason']) || str(d['error']);
      return { ...d, status, error: status === 'failed' || status === 'error' ? reason || null : (d['error'] ?? null) };
    }
    case 'connection':
      return { ...d, message: d['message'] ?? (str(d['detail']) || null) };
    case 'risk':
      return d['kind'] === undefined ? { ...d, kind: 'rejected' } : d;
    case 'alert': {
      if (d['actor'] !== undefined) {
        const failed = d['error'] !== undefined;
        return {
          level: failed ? 'error' : 'warning',
          kind: failed ? 'actor_failed' : 'actor_stopped',
          message: failed
            ? `${str(d['actor'])} failed: ${str(d['error'])}${d['action'] ? ` (${str(d['action'])})` : ''}`
            : `${str(d['actor'])} stopped: ${str(d['reason'])}`,
        };
      }
      const kind = str(d['kind']) || 'alert';
      return { ...d, kind, level: str(d['level']) || alertLevel(kind), message: str(d['message']) };
    }
    case 'log':
      if (typeof d['lag_ms'] === 'number' && d['event'] === undefined) return { ...d, level: 'info', event: 'loop_lag' };
      return { level: str(d['level']) || 'info', event: str(d['event']) || 'event', ...d };
    default:
      return d;
  }
}

export function normalizeEnvelope(e: Envelope): Envelope {
  return { ...e, data: normalizeData(e.type, e.data) };
}

/**
 * The server's first message after authentication (not an envelope):
 * `{"type": "hello", "last_seq": n, "oldest_seq": m, "resumed_from": s | null, "gap": bool}`.
 */
export interface Welcome {
  type: 'hello';
  last_seq: number;
  oldest_seq: number;
  resumed_from: number | null;
  gap: boolean;
}

export function parseWelcome(raw: unknown): Welcome | null {
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!isObj(v) || v['type'] !== 'hello' || 'seq' in v) return null;
  return {
    type: 'hello',
    last_seq: typeof v['last_seq'] === 'number' ? v['last_seq'] : 0,
    oldest_seq: typeof v['oldest_seq'] === 'number' ? v['oldest_seq'] : 0,
    resumed_from: typeof v['resumed_from'] === 'number' ? v['resumed_from'] : null,
    gap: v['gap'] === true,
  };
}
