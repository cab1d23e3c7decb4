import { describe, expect, it } from 'vitest';
import type { Envelope } from '../api/types';
import { StreamClient, type StreamStatus } from './client';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  emit(seq: number, type = 'fill') {
    this.onmessage?.({ data: JSON.stringify({ seq, type, at: '2026-11-23T14:30:00Z', data: { seq } }) });
  }
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function setup(token: string | null = 'tok') {
  FakeSocket.all = [];
  const events: Envelope[] = [];
  const statuses: StreamStatus[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  let gaps = 0;
  let unauthorized = 0;
  const client = new StreamClient({
    url: 'ws://x/api/stream',
    token: () => token,
    onEvent: (e) => events.push(e),
    onStatus: (s) => statuses.push(s),
    onGap: () => (gaps += 1),
    onUnauthorized: () => (unauthorized += 1),
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
  });
  return { client, events, statuses, timers, gaps: () => gaps, unauthorized: () => unauthorized };
}

describe('StreamClient', () => {
  it('authenticates with the token as the first message', () => {
    const t = setup();
    t.client.start();
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    expect(JSON.parse(ws.sent[0] as string)).toEqual({ token: 'tok' });
    expect(t.statuses).toEqual(['connecting', 'open']);
  });

  it('reconnects with backoff and resumes from the last seq, without duplicates', () => {
    const t = setup();
    t.client.start();
    const ws1 = FakeSocket.all[0] as FakeSocket;
    ws1.open();
    ws1.emit(1);
    ws1.emit(2);
    ws1.drop(1006);
    expect(t.timers).toHaveLength(1);
    expect(t.statuses.at(-1)).toBe('reconnecting');
    t.timers[0]?.fn();
    const ws2 = FakeSocket.all[1] as FakeSocket;
    ws2.open();
    expect(JSON.parse(ws2.sent[0] as string)).toEqual({ token: 'tok', since: 2 });
    ws2.emit(2);
    ws2.emit(3);
    expect(t.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(t.gaps()).toBe(0);
  });

  it('backs off further on repeated failures and resets after an event', () => {
    const t = setup();
    t.client.start();
    (FakeSocket.all[0] as FakeSocket).drop();
    t.timers[0]?.fn();
    (FakeSocket.all[1] as FakeSocket).drop();
    t.timers[1]?.fn();
    (FakeSocket.all[2] as FakeSocket).drop();
    const [a, b, c] = t.timers.map((x) => x.ms) as [number, number, number];
    expect(b).toBeGreaterThan(a * 1.2);
    expect(c).toBeGreaterThan(b * 1.2);
  });

  it('reports a gap when resumed events are missing', () => {
    const t = setup();
    t.client.start();
    const ws1 = FakeSocket.all[0] as FakeSocket;
    ws1.open();
    ws1.emit(5);
    ws1.drop();
    t.timers[0]?.fn();
    const ws2 = FakeSocket.all[1] as FakeSocket;
    ws2.open();
    ws2.emit(40);
    expect(t.gaps()).toBe(1);
    expect(t.events.map((e) => e.seq)).toEqual([5, 40]);
  });

  it("refetches on the server's reported gap, and starts over when the server restarted", () => {
    const t = setup();
    t.client.start();
    const ws1 = FakeSocket.all[0] as FakeSocket;
    ws1.open();
    ws1.onmessage?.({ data: '{"type":"hello","last_seq":0,"oldest_seq":1,"resumed_from":null,"gap":false}' });
    ws1.emit(1);
    ws1.emit(2);
    ws1.drop();
    t.timers[0]?.fn();
    const ws2 = FakeSocket.all[1] as FakeSocket;
    ws2.open();
    // a restarted server numbers afresh: its last_seq (0) is below ours (2)
    ws2.onmessage?.({ data: '{"type":"hello","last_seq":0,"oldest_seq":1,"resumed_from":2,"gap":false}' });
    expect(t.gaps()).toBe(1);
    ws2.emit(1);
    expect(t.events.map((e) => e.seq)).toEqual([1, 2, 1]);
    ws2.onmessage?.({ data: '{"type":"hello","last_seq":9,"oldest_seq":5,"resumed_from":1,"gap":true}' });
    expect(t.gaps()).toBe(2);
  });

  it('delivers normalized data', () => {
    const t = setup();
    t.client.start();
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    ws.onmessage?.({ data: JSON.stringify({ seq: 1, type: 'order', at: 'x', data: { status: { order_ref: 'r', state: 'Filled' } } }) });
    expect(t.events[0]?.data).toEqual({ order_ref: 'r', state: 'Filled' });
  });

  it('stops on a forbidden origin (4403) instead of hammering the server', () => {
    const t = setup();
    t.client.start();
    (FakeSocket.all[0] as FakeSocket).drop(4403, 'origin not allowed');
    expect(t.timers).toHaveLength(0);
    expect(t.statuses.at(-1)).toBe('closed');
  });

  it('stops and reports unauthorized on close code 4401', () => {
    const t = setup();
    t.client.start();
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    ws.drop(4401, 'unauthorized');
    expect(t.unauthorized()).toBe(1);
    expect(t.timers).toHaveLength(0);
    expect(t.statuses.at(-1)).toBe('unauthorized');
  });

  it('does not connect without a token, and stop() cancels reconnects', () => {
    const t = setup(null);
    t.client.start();
    expect(FakeSocket.all).toHaveLength(0);
    const u = setup();
    u.client.start();
    u.client.stop();
    (FakeSocket.all[0] as FakeSocket).drop();
    expect(u.timers).toHaveLength(0);
  });

  it('ignores malformed messages', () => {
    const t = setup();
    t.client.start();
    const ws = FakeSocket.all[0] as FakeSocket;
    ws.open();
    ws.onmessage?.({ data: 'garbage' });
    ws.onmessage?.({ data: '{"seq":1,"type":"unknown","at":"x","data":{}}' });
    expect(t.events).toHaveLength(0);
  });
});
