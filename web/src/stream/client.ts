/**
 * WebSocket client of `/api/stream`: authenticates with the token as its first message, reconnects with
 * backoff, resumes from the last seq seen, drops duplicates, and reports gaps so snapshots can be refetched.
 */
import { WS_CLOSE_FORBIDDEN_ORIGIN, WS_CLOSE_UNAUTHORIZED, type Envelope } from '../api/types';
import { normalizeEnvelope, parseWelcome } from './normalize';
import { acceptSeq, backoffDelay, helloMessage, initialSeq, onConnect, onWelcome, parseEnvelope, type SeqState } from './protocol';

export type StreamStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' | 'unauthorized';

export interface StreamClientOptions {
  url: string;
  token: () => string | null;
  onEvent: (e: Envelope) => void;
  onStatus?: (s: StreamStatus, detail?: string) => void;
  /** Events were missed: refetch REST snapshots. */
  onGap?: () => void;
  onUnauthorized?: () => void;
  WebSocketImpl?: typeof WebSocket;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export class StreamClient {
  private ws: WebSocket | null = null;
  private seq: SeqState = initialSeq;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = true;
  private readonly o: StreamClientOptions;

  constructor(o: StreamClientOptions) {
    this.o = o;
  }

  get lastSeq(): number | null {
    return this.seq.last;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.o.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, 'client stopped');
    this.o.onStatus?.('closed');
  }

  private open(): void {
    const token = this.o.token();
    if (!token) {
      this.o.onStatus?.('unauthorized');
      return;
    }
    const Impl = this.o.WebSocketImpl ?? WebSocket;
    this.o.onStatus?.(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new Impl(this.o.url);
    } catch (e) {
      this.scheduleReconnect(String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.seq = onConnect(this.seq);
      ws.send(helloMessage(token, this.seq));
      this.o.onStatus?.('open');
    };
    ws.onmessage = (m: MessageEvent) => {
      if (this.ws !== ws) return;
      const text = typeof m.data === 'string' ? m.data : null;
      const env = parseEnvelope(text);
      if (!env) {
        const hello = parseWelcome(text);
        if (hello) {
          const w = onWelcome(this.seq, hello);
          this.seq = w.state;
          if (w.gap) this.o.onGap?.();
        }
        return;
      }
      this.attempt = 0;
      const d = acceptSeq(this.seq, env.seq);
      this.seq = d.state;
      if (d.gap) this.o.onGap?.();
      if (d.accept) this.o.onEvent(normalizeEnvelope(env));
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === WS_CLOSE_FORBIDDEN_ORIGIN) {
        this.stopped = true;
        this.o.onStatus?.('closed', `origin not allowed by the server: ${ev.reason}`);
        return;
      }
      if (ev.code === WS_CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.o.onStatus?.('unauthorized');
        this.o.onUnauthorized?.();
        return;
      }
      this.scheduleReconnect(ev.reason || `closed (${ev.code})`);
    };
    ws.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  private scheduleReconnect(detail: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.o.onStatus?.('reconnecting', `${detail}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = (this.o.setTimer ?? setTimeout)(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}
