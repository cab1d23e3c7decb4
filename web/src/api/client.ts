/**
 * Typed client for every route of DESIGN.md section 7. The bearer token comes from the login screen and is
 * kept in sessionStorage; a 401 clears it and sends the user back to the login screen; any other error is
 * thrown as an ApiError carrying the server's message (a 4xx body names the wrong field).
 */
import type {
  BacktestRequest,
  BacktestResult,
  BacktestSummary,
  Booking,
  BookingRequest,
  CancelResult,
  ConnectionState,
  EquityCurve,
  ErrorBody,
  FillRow,
  Health,
  KillSwitchRequest,
  KillSwitchState,
  LibraryList,
  OrderRow,
  Portfolio,
  ReconcileResult,
  Settings,
  SettingsChanged,
  SettingsUpdate,
  Strategy,
  StrategyClass,
  StrategyPatch,
  StrategyRegistration,
  SymbolList,
  SymbolRows,
} from './types';

const TOKEN_KEY = 'mats.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  for (const fn of tokenListeners) fn(token);
}

const tokenListeners = new Set<(t: string | null) => void>();
export function onTokenChange(fn: (t: string | null) => void): () => void {
  tokenListeners.add(fn);
  return () => tokenListeners.delete(fn);
}

export class ApiError extends Error {
  readonly status: number;
  readonly field: string | null;
  readonly body: unknown;
  constructor(status: number, message: string, field: string | null, body: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
    this.body = body;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message and the named field of an error body (Litestar's `{detail, extra}` or a plain string). */
export function describeError(status: number, body: unknown): { message: string; field: string | null } {
  if (typeof body === 'string' && body.trim()) return { message: body.trim().slice(0, 500), field: null };
  if (!isRecord(body)) return { message: `HTTP ${status}`, field: null };
  const b = body as ErrorBody & Record<string, unknown>;
  let field: string | null = typeof b['field'] === 'string' ? (b['field'] as string) : null;
  const parts: string[] = [];
  if (typeof b.detail === 'string' && b.detail) parts.push(b.detail);
  const extra = b.extra;
  const items = Array.isArray(extra) ? extra : isRecord(extra) ? [extra] : [];
  for (const item of items) {
    if (!isRecord(item)) continue;
    const key = typeof item['key'] === 'string' ? item['key'] : null;
    const msg = typeof item['message'] === 'string' ? item['message'] : null;
    if (key && !field) field = key;
    if (msg) parts.push(key ? `${key}: ${msg}` : msg);
  }
  if (typeof extra === 'string' && extra) parts.push(extra);
  if (!parts.length && typeof b['message'] === 'string') parts.push(b['message'] as string);
  // mats.config errors read "settings: ib.port: Expected `int` <= 65535": the key comes second.
  if (!field && typeof b.detail === 'string') {
    const m = /^[a-z_]+: ([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[\d+\])*): /i.exec(b.detail);
    if (m?.[1]) field = m[1];
  }
  return { message: parts.length ? parts.join(' — ') : `HTTP ${status}`, field };
}

let unauthorizedHandler: () => void = () => {};
/** Called on any 401: the app clears the token and shows the login screen. */
export function onUnauthorized(fn: () => void): void {
  unauthorizedHandler = fn;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function buildUrl(path: string, query?: Query): string {
  const qs = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    }
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

const seg = (s: string | number): string => encodeURIComponent(String(s));

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Send without the token (only /api/health). */
  anonymous?: boolean;
  /** Override the token (the login screen checks a token before storing it). */
  token?: string;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = opts.token ?? getToken();
  if (!opts.anonymous && token) headers['Authorization'] = `Bearer ${token}`;
  const init: RequestInit = { method: opts.method ?? 'GET', headers };
  if (opts.signal) init.signal = opts.signal;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(path, opts.query), init);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, `Cannot reach the MATS API (${(e as Error).message})`, null, null);
  }
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.status === 401 && !opts.anonymous) {
    if (!opts.token) unauthorizedHandler();
    const { message } = describeError(401, body);
    throw new ApiError(401, message === 'HTTP 401' ? 'Invalid or missing API token' : message, null, body);
  }
  if (!res.ok) {
    const { message, field } = describeError(res.status, body);
    throw new ApiError(res.status, message, field, body);
  }
  return body as T;
}

const post = <T>(path: string, body?: unknown, query?: Query): Promise<T> =>
  request<T>(path, { method: 'POST', body: body ?? {}, query });

/** Every route of DESIGN.md section 7. */
export const api = {
  health: (signal?: AbortSignal) => request<Health>('/api/health', { anonymous: true, signal }),
  /** Checks a token against an authenticated route without storing it. */
  checkToken: (token: string) => request<ConnectionState>('/api/connection', { token }),

  connection: (signal?: AbortSignal) => request<ConnectionState>('/api/connection', { signal }),
  connect: () => post<ConnectionState>('/api/connection/connect'),
  disconnect: () => post<ConnectionState>('/api/connection/disconnect'),

  strategies: (signal?: AbortSignal) => request<Strategy[]>('/api/strategies', { signal }),
  strategyClasses: (signal?: AbortSignal) => request<StrategyClass[]>('/api/strategies/classes', { signal }),
  strategy: (id: string, signal?: AbortSignal) => request<Strategy>(`/api/strategies/${seg(id)}`, { signal }),
  registerStrategy: (body: StrategyRegistration) => post<Strategy>('/api/strategies', body),
  patchStrategy: (id: string, body: StrategyPatch) =>
    request<Strategy>(`/api/strategies/${seg(id)}`, { method: 'PATCH', body }),
  deleteStrategy: (id: string) => request<null>(`/api/strategies/${seg(id)}`, { method: 'DELETE' }),
  startStrategy: (id: string) => post<Strategy>(`/api/strategies/${seg(id)}/start`),
  stopStrategy: (id: string) => post<Strategy>(`/api/strategies/${seg(id)}/stop`),

  portfolio: (signal?: AbortSignal) => request<Portfolio>('/api/portfolio', { signal }),
  equity: (q: { strategy_id?: string; start?: string; end?: string } = {}, signal?: AbortSignal) =>
    request<EquityCurve>('/api/portfolio/equity', { query: q, signal }),
  reconcile: () => post<ReconcileResult>('/api/portfolio/reconcile'),
  book: (body: BookingRequest) => post<Booking>('/api/portfolio/bookings', body),

  fills: (q: { strategy_id?: string; symbol?: string; since?: string; limit?: number } = {}, signal?: AbortSignal) =>
    request<FillRow[]>('/api/fills', { query: q, signal }),
  orders: (
    q: { strategy_id?: string; state?: 'open' | 'done' | 'all'; limit?: number } = {},
    signal?: AbortSignal,
  ) => request<OrderRow[]>('/api/orders', { query: q, signal }),
  cancelOrder: (orderRef: string) => post<CancelResult>(`/api/orders/${seg(orderRef)}/cancel`),

  killSwitch: (body: KillSwitchRequest) => post<KillSwitchState>('/api/risk/kill-switch', body),

  settings: (signal?: AbortSignal) => request<Settings>('/api/settings', { signal }),
  /** Accepts `{settings, restart_required}` (routes/settings.py) or the bare settings. */
  putSettings: async (body: SettingsUpdate): Promise<SettingsChanged> => {
    const r = await request<SettingsChanged | Settings>('/api/settings', { method: 'PUT', body });
    return 'settings' in r && typeof r.settings === 'object' && r.settings !== null
      ? (r as SettingsChanged)
      : { settings: r as Settings, restart_required: (r as Settings).restart_required ?? [] };
  },

  libraries: (signal?: AbortSignal) => request<LibraryList>('/api/arctic/libraries', { signal }),
  symbols: (lib: string, signal?: AbortSignal) =>
    request<SymbolList>(`/api/arctic/libraries/${seg(lib)}/symbols`, { signal }),
  rows: (
    lib: string,
    symbol: string,
    q: { start?: string; end?: string; limit?: number; tail?: number } = {},
    signal?: AbortSignal,
  ) => request<SymbolRows>(`/api/arctic/libraries/${seg(lib)}/symbols/${seg(symbol)}`, { query: q, signal }),

  backtests: (signal?: AbortSignal) => request<BacktestSummary[]>('/api/backtests', { signal }),
  createBacktest: (body: BacktestRequest) => post<BacktestSummary>('/api/backtests', body),
  backtest: (id: string, signal?: AbortSignal) => request<BacktestResult>(`/api/backtests/${seg(id)}`, { signal }),
};

export type Api = typeof api;
