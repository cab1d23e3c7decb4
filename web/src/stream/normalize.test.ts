import { describe, expect, it } from 'vitest';
import { foldFills } from '../lib/fills';
import type { FillEvent } from '../api/types';
import { normalizeData, parseWelcome } from './normalize';

// Shapes as msgspec encodes the event Structs of src/mats/messages.py.
const fill = {
  exec_id: '0000e0d5.65ae.01', order_ref: 'mats:sma_aapl:01JD', strategy_id: 'sma_aapl', con_id: 265598, symbol: 'AAPL', side: 'BUY',
  qty: 10, price: 190.2, exec_time: '2026-11-23T14:30:00Z', perm_id: 7, commission: null, currency: 'USD', multiplier: 1,
};

describe('normalizeData', () => {
  it('unwraps OrderFilled and turns CommissionCharged into a commission that folds onto its fill', () => {
    const f = normalizeData('fill', { fill }) as FillEvent;
    const c = normalizeData('fill', { exec_id: fill.exec_id, strategy_id: 'sma_aapl', commission: 1.0, currency: 'USD' }) as FillEvent;
    expect(c).toEqual({ kind: 'commission', exec_id: fill.exec_id, commission: 1.0, currency: 'USD' });
    const rows = foldFills([f, c]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ price: 190.2, qty: 10, commission: 1.0, strategy_id: 'sma_aapl' });
  });

  it('keeps flat fills (REST rows, older servers) as they are', () => {
    expect(normalizeData('fill', { ...fill, commission: 1 })).toMatchObject({ price: 190.2, commission: 1 });
  });

  it('unwraps OrderStatusChanged and PositionChanged', () => {
    const status = { order_ref: 'r', strategy_id: 's', symbol: 'AAPL', state: 'Filled', qty: 10, filled: 10, remaining: 0, avg_fill_price: 190 };
    expect(normalizeData('order', { status })).toEqual(status);
    const position = { strategy_id: 's', con_id: 1, symbol: 'AAPL', qty: 10, avg_cost: 190 };
    expect(normalizeData('position', { position })).toEqual(position);
  });

  it('maps strategy, connection, risk and alert events', () => {
    expect(normalizeData('strategy', { strategy_id: 's', status: 'failed', reason: 'ZeroDivisionError' })).toMatchObject({ status: 'failed', error: 'ZeroDivisionError' });
    expect(normalizeData('strategy', { strategy_id: 's', status: 'stopped', reason: 'requested' })).toMatchObject({ error: null });
    expect(normalizeData('connection', { client_id: 99, role: 'recorder', connected: false, detail: '1100 lost' })).toMatchObject({ message: '1100 lost' });
    expect(normalizeData('risk', { strategy_id: 's', symbol: 'AAPL', reason: 'AAPL is locked' })).toMatchObject({ kind: 'rejected', reason: 'AAPL is locked' });
    expect(normalizeData('alert', { kind: 'degraded_storage', message: 'ArcticDB write failed', data: {} })).toMatchObject({ level: 'error', kind: 'degraded_storage' });
    expect(normalizeData('alert', { kind: 'loop_lag', message: 'lag', data: {} })).toMatchObject({ level: 'warning' });
    expect(normalizeData('alert', { actor: 'strategy:s', error: 'boom', action: 'stopped' })).toEqual({ level: 'error', kind: 'actor_failed', message: 'strategy:s failed: boom (stopped)' });
    expect(normalizeData('log', { lag_ms: 3.2, at: 'x' })).toMatchObject({ event: 'loop_lag', level: 'info' });
  });
});

describe('parseWelcome', () => {
  it("reads the server's hello and ignores envelopes", () => {
    expect(parseWelcome('{"type":"hello","last_seq":12,"oldest_seq":1,"resumed_from":null,"gap":false}')).toEqual({
      type: 'hello', last_seq: 12, oldest_seq: 1, resumed_from: null, gap: false,
    });
    expect(parseWelcome('{"seq":1,"type":"hello","at":"x","data":{}}')).toBeNull();
    expect(parseWelcome('nope')).toBeNull();
  });
});
