/**
 * Pure logic of the `/api/stream` client: envelope parsing, seq tracking (dedupe, gap detection, resume)
 * and reconnect backoff. No sockets or timers here, so it is unit-tested directly.
 */
import { STREAM_TYPES, type Envelope, type StreamHello, type StreamType } from '../api/types';

const TYPES = new Set<string>(STREAM_TYPES);

/** A stream message, or null if it is not a valid envelope `{seq, type, at, data}`. */
export function parseEnvelope(raw: unknown): Envelope | null {
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const seq = o['seq'];
  const type = o['type'];
  const at = o['at'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return null;
  if (typeof type !== 'string' || !TYPES.has(type)) return null;
  if (typeof at !== 'string') return null;
  const data = o['data'];
  return { seq, type: type as StreamType, at, data: typeof data === 'object' && data !== null ? data : {} };
}

export interface SeqState {
  /** The highest seq accepted, or null before the first event. */
  last: number | null;
  /** The seq we asked to resume from on the current connection (null: a fresh start). */
  resumeFrom: number | null;
  /** True until the first event of the current connection has been seen. */
  awaitingFirst: boolean;
}

export const initialSeq: SeqState = { last: null, resumeFrom: null, awaitingFirst: true };

/** A new connection resumes from the last seq seen. */
export function onConnect(s: SeqState): SeqState {
  return { last: s.last, resumeFrom: s.last, awaitingFirst: true };
}

export interface SeqDecision {
  state: SeqState;
  /** Deliver this event (false for a duplicate or an older seq). */
  accept: boolean;
  /** Events were missed (the server no longer had them): snapshots must be refetched. */
  gap: boolean;
}

/** Dedupe by seq and detect a gap between what we asked for and what arrived. */
export function acceptSeq(s: SeqState, seq: number): SeqDecision {
  if (s.last !== null && seq <= s.last) {
    return { state: s, accept: false, gap: false };
  }
  let gap = false;
  if (s.last !== null && seq > s.last + 1) {
    // A gap right after a resume means the server no longer held the missed events; within a live
    // connection it means the same (the server dropped events for us).
    gap = true;
  }
  return { state: { last: seq, resumeFrom: s.resumeFrom, awaitingFirst: false }, accept: true, gap };
}

/** The first message of a connection: the token, and where to resume from. */
export function helloMessage(token: string, s: SeqState): string {
  const hello: StreamHello = { token };
  if (s.last !== null) hello.since = s.last;
  return JSON.stringify(hello);
}

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** 0..1: the fraction of the delay that is randomised. */
  jitter?: number;
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 15 s. `rand` is injectable for tests. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, rand: () => number = Math.random): number {
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 15_000;
  const jitter = opts.jitter ?? 0.3;
  const exp = Math.min(max, base * 2 ** Math.max(0, attempt));
  const spread = exp * jitter;
  return Math.round(Math.max(base / 2, exp - spread + rand() * spread));
}

/** The WebSocket URL of the stream for a page at `loc` (ws: for http:, wss: for https:). */
export function streamUrl(loc: { protocol: string; host: string }, path = '/api/stream'): string {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}${path}`;
}

/**
 * The server's hello: a gap it reports means snapshots must be refetched; a `last_seq` below ours means the
 * server restarted and numbers events afresh, so our seq tracking starts over (else every new event would
 * look like a duplicate).
 */
export function onWelcome(s: SeqState, w: { last_seq: number; gap: boolean }): { state: SeqState; gap: boolean } {
  if (s.last !== null && w.last_seq < s.last) {
    return { state: { last: w.last_seq, resumeFrom: null, awaitingFirst: true }, gap: true };
  }
  return { state: s, gap: w.gap };
}
