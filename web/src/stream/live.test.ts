import { describe, expect, it } from 'vitest';
import type { Envelope, StreamType } from '../api/types';
import { alertOf, createLiveStore, initialLive, MAX_FILLS, reduceLive } from './live';

let n = 0;
const env = (type: StreamType, data: unknown): Envelope => ({ seq: ++n, type, at: '2026-11-23T14:30:00Z', data });

describe('reduceLive', () => {
  it('bumps the version of the event type and records the seq', () => {
    const s = reduceLive(initialLive(), env('position', { strategy_id: 'a' }));
    expect(s.versions.position).toBe(1);
    expect(s.versions.fill).toBe(0);
    expect(s.lastSeq).toBe(n);
  });

  it('keeps orders by order_ref, merging updates', () => {
    let s = reduceLive(initialLive(), env('order', { order_ref: 'r1', state: 'Submitted', qty: 10, limit_price: 195 }));
    s = reduceLive(s, env('order', { order_ref: 'r1', state: 'Filled', filled: 10 }));
    expect(s.orders['r1']).toMatchObject({ state: 'Filled', limit_price: 195, filled: 10 });
  });

  it('caps the live fill buffer', () => {
    let s = initialLive();
    for (let i = 0; i < MAX_FILLS + 5; i++) s = reduceLive(s, env('fill', { exec_id: `${i}.01` }));
    expect(s.fills).toHaveLength(MAX_FILLS);
  });

  it('tracks the kill switch, strategy and connection state, and backtest progress', () => {
    let s = reduceLive(initialLive(), env('risk', { kind: 'kill_switch', engaged: true }));
    s = reduceLive(s, env('strategy', { strategy_id: 'a', status: 'stopped' }));
    s = reduceLive(s, env('connection', { client_id: 3, connected: false }));
    s = reduceLive(s, env('backtest', { run_id: 'r', status: 'running', progress: 0.4 }));
    expect(s.killSwitch).toBe(true);
    expect(s.strategies['a']?.status).toBe('stopped');
    expect(s.connection[3]?.connected).toBe(false);
    expect(s.backtests['r']?.progress).toBe(0.4);
  });
});

describe('alerts', () => {
  it('derives the alerts a trader must see', () => {
    expect(alertOf(env('risk', { kind: 'rejected', strategy_id: 's', symbol: 'AAPL', reason: 'AAPL is locked' }))).toMatchObject({
      kind: 'risk_rejection',
      message: 'Order rejected for s in AAPL: AAPL is locked',
    });
    expect(alertOf(env('connection', { client_id: 99, role: 'recorder', connected: false, message: '1100' }))?.kind).toBe('disconnect');
    expect(alertOf(env('connection', { client_id: 99, connected: true }))).toBeNull();
    expect(alertOf(env('connection', { client_id: 5, role: 'strategy', connected: false }))).toBeNull();
    expect(alertOf(env('connection', { client_id: 5, role: 'strategy', connected: false, message: '326 clientId in use' }))?.kind).toBe('disconnect');
    expect(
      alertOf(env('reconciliation', { as_of: 'x', reconciliation: [{ con_id: 1, symbol: 'TSLA', ib_qty: 3, attributed_qty: 0, discretionary_qty: 0, break_qty: 3, locked: true }] }))?.message,
    ).toBe('Reconciliation break: TSLA +3 (locked)');
    expect(alertOf(env('reconciliation', { as_of: 'x', reconciliation: [] }))).toBeNull();
    expect(alertOf(env('alert', { level: 'error', kind: 'storage_degraded', message: 'ArcticDB write failed' }))).toMatchObject({
      level: 'error',
      kind: 'storage_degraded',
    });
    expect(alertOf(env('strategy', { strategy_id: 's', status: 'error', error: 'ZeroDivisionError' }))?.message).toBe('s stopped: ZeroDivisionError');
    expect(alertOf(env('fill', {}))).toBeNull();
  });

  it('keeps newest alerts first without duplicates', () => {
    const store = createLiveStore();
    const a = env('alert', { level: 'warning', kind: 'x', message: 'one' });
    store.dispatch(a);
    store.dispatch(env('alert', { level: 'warning', kind: 'x', message: 'two' }));
    expect(store.get().alerts.map((x) => x.message)).toEqual(['two', 'one']);
    let calls = 0;
    const off = store.subscribe(() => (calls += 1));
    store.gap();
    off();
    store.gap();
    expect(calls).toBe(1);
    expect(store.get().versions.gap).toBe(2);
  });
});
