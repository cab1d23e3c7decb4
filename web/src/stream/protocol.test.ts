import { describe, expect, it } from 'vitest';
import { acceptSeq, backoffDelay, helloMessage, initialSeq, onConnect, parseEnvelope, streamUrl, type SeqState } from './protocol';

describe('parseEnvelope', () => {
  it('accepts the pinned envelope and rejects anything else', () => {
    expect(parseEnvelope('{"seq":3,"type":"fill","at":"2026-11-23T14:30:00Z","data":{"qty":10}}')).toEqual({
      seq: 3, type: 'fill', at: '2026-11-23T14:30:00Z', data: { qty: 10 },
    });
    expect(parseEnvelope('{"seq":3,"type":"nope","at":"x","data":{}}')).toBeNull();
    expect(parseEnvelope('{"seq":-1,"type":"fill","at":"x","data":{}}')).toBeNull();
    expect(parseEnvelope('{"seq":1.5,"type":"fill","at":"x","data":{}}')).toBeNull();
    expect(parseEnvelope('{"type":"fill","at":"x"}')).toBeNull();
    expect(parseEnvelope('not json')).toBeNull();
    expect(parseEnvelope({ seq: 1, type: 'log', at: 'x' })).toEqual({ seq: 1, type: 'log', at: 'x', data: {} });
  });
});

describe('seq tracking', () => {
  const feed = (s: SeqState, seqs: number[]) => {
    const out: { accepted: number[]; gaps: number } = { accepted: [], gaps: 0 };
    for (const q of seqs) {
      const d = acceptSeq(s, q);
      s = d.state;
      if (d.accept) out.accepted.push(q);
      if (d.gap) out.gaps += 1;
    }
    return { s, ...out };
  };

  it('drops duplicates and older events', () => {
    const r = feed(initialSeq, [1, 2, 2, 3, 1, 4]);
    expect(r.accepted).toEqual([1, 2, 3, 4]);
    expect(r.gaps).toBe(0);
    expect(r.s.last).toBe(4);
  });

  it('resumes from the last seq after a reconnect, replayed events are deduped', () => {
    const first = feed(initialSeq, [10, 11, 12]);
    expect(helloMessage('t', initialSeq)).toBe('{"token":"t"}');
    const resumed = onConnect(first.s);
    expect(JSON.parse(helloMessage('t', resumed))).toEqual({ token: 't', since: 12 });
    // the server replays 12 (overlap) then 13, 14
    const r = feed(resumed, [12, 13, 14]);
    expect(r.accepted).toEqual([13, 14]);
    expect(r.gaps).toBe(0);
  });

  it('reports a gap when the server no longer had what we missed', () => {
    const s = onConnect(feed(initialSeq, [1, 2]).s);
    const r = feed(s, [50, 51]);
    expect(r.accepted).toEqual([50, 51]);
    expect(r.gaps).toBe(1);
  });

  it('does not call the first event of a fresh start a gap', () => {
    expect(feed(onConnect(initialSeq), [1000]).gaps).toBe(0);
  });
});

describe('backoff', () => {
  it('grows exponentially to a cap, with bounded jitter', () => {
    const mid = () => 0.5;
    const d = [0, 1, 2, 3, 10].map((a) => backoffDelay(a, {}, mid));
    expect(d[0]).toBeLessThan(d[1] as number);
    expect(d[1]).toBeLessThan(d[2] as number);
    expect(d[4]).toBeLessThanOrEqual(15000);
    expect(backoffDelay(20, {}, () => 1)).toBe(15000);
    expect(backoffDelay(0, {}, () => 0)).toBeGreaterThanOrEqual(250);
  });
});

describe('streamUrl', () => {
  it('uses ws: for http and wss: for https', () => {
    expect(streamUrl({ protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/api/stream');
    expect(streamUrl({ protocol: 'https:', host: 'mats.example' })).toBe('wss://mats.example/api/stream');
  });
});
