/**
 * Types of the MATS HTTP API and the `/api/stream` WebSocket (DESIGN.md section 7).
 *
 * Shapes that DESIGN.md pins are marked PINNED. Everything else is a choice made by the UI before the API
 * existed; each such choice is marked `ASSUMED:` so the API can be built to match (or this file corrected).
 * Field names follow `src/mats/model.py` (Fill, OrderStatus, Position, StrategySpec) wherever one exists.
 * Times are ISO-8601 strings with an offset (MATS is tz-aware UTC everywhere).
 */

export type IsoTime = string;

// ---------------------------------------------------------------------------------------------------- health

/**
 * `GET /api/health` (no auth). Fields up to `stream_clients` are what src/mats/api/routes/health.py returns;
 * the ones after are ASSUMED additions the UI uses when present.
 */
export interface Health {
  status: 'ok' | 'starting' | string;
  version?: string;
  uptime_s?: number;
  /** The unhandled-exception counter (issue 10). */
  unhandled_exceptions?: number;
  loop_lag?: Record<string, number>;
  event_seq?: number;
  stream_clients?: number;
  /** ASSUMED: `"ok" | "degraded"`; "degraded" when ArcticDB writes are failing and the journal is buffering. */
  storage?: 'ok' | 'degraded' | string;
  /** ASSUMED: whether the global kill switch is engaged (there is no GET route for it otherwise). */
  kill_switch?: boolean;
  /** ASSUMED: the account id and base currency, for the header. */
  account?: string;
  base_currency?: string;
  /** ASSUMED: `"demo" | "serve"`. */
  mode?: string;
}

// ---------------------------------------------------------------------------------------------------- connection

/** The role of an IB client (mats.ib.connection.ClientRole): 0 engine, 99 recorder, 1–98 strategies. */
export type ClientRole = 'engine' | 'recorder' | 'strategy';

/** mats.ib.connection.ConnectionState; "held": connected, but IB lost its own connectivity (1100). */
export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'held' | 'stopped';

/**
 * One IB API client of the IBHub, as src/mats/api/routes/connection.py returns it
 * (`client_id, role, state, connects, last_error, stale_farms`). `connected`, `strategy_ids` and `since`
 * are ASSUMED optional extras the UI shows when present.
 */
export interface ClientStatus {
  client_id: number;
  role: ClientRole | string;
  state?: ClientState | string;
  connects?: number;
  last_error?: string | null;
  stale_farms?: string[];
  connected?: boolean;
  /** ASSUMED (optional): strategies using this client (one, or several for a pooled client). */
  strategy_ids?: string[];
  /** ASSUMED (optional): last change of state. */
  since?: IsoTime | null;
}

/** Whether a client's socket is up ("held" is up, but IB itself lost connectivity). */
export function clientUp(c: ClientStatus): boolean {
  return c.connected ?? (c.state === 'connected' || c.state === 'held');
}

/** `GET /api/connection` and the reply of `POST /api/connection/{connect,disconnect}` (routes/connection.py). */
export interface ConnectionState {
  host: string;
  port: number;
  /** The IB account in use ("DU0000001"). */
  account?: string | null;
  /** True when clients 0 and 99 are connected. */
  connected: boolean;
  clients: ClientStatus[];
}

// ---------------------------------------------------------------------------------------------------- strategies

/** An instrument as in DESIGN section 6: "AAPL", "EUR.USD" or a spec object. */
export type InstrumentSpec =
  | string
  | {
      symbol: string;
      sec_type?: string;
      exchange?: string;
      currency?: string;
      expiry?: string;
      [key: string]: string | number | undefined;
    };

export type ParamValue = string | number | boolean | null;
export type Params = Record<string, ParamValue>;

/** PINNED: the body of `POST /api/strategies` (and a row of `general/strategies`). */
export interface StrategyRegistration {
  strategy_id: string;
  cls: string;
  symbols: InstrumentSpec[];
  params: Params;
  target_weight: number;
  equity: number | null;
  bar_size: string;
  /** From StrategySpec in model.py; optional. */
  autostart?: boolean;
  client_id?: number | null;
}

/** A strategy's status (messages.StrategyStatusChanged: registered, starting, running, stopped, failed). */
export type StrategyStatus = 'registered' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | string;

/**
 * ASSUMED: an item of `GET /api/strategies` and the reply of `GET|PATCH /api/strategies/{id}` and
 * `POST /api/strategies/{id}/{start,stop}`: the registration plus live state.
 * The UI takes positions and unrealized PnL from `GET /api/portfolio` (pinned), so they are not needed here.
 */
export interface Strategy extends StrategyRegistration {
  status: StrategyStatus;
  enabled?: boolean;
  /** The IB client id it trades through (after registration the engine assigns one). */
  client_id: number | null;
  /** Equity actually allocated in base currency (explicit equity, else target_weight × total equity). */
  resolved_equity?: number | null;
  /** ASSUMED: realized PnL (base currency) since inception, and PnL since the daily reset. */
  realized_pnl?: number | null;
  daily_pnl?: number | null;
  /** Last error when status is "error". */
  error?: string | null;
  updated_at?: IsoTime | null;
}

/** ASSUMED: `PATCH /api/strategies/{id}` body; any subset. `params` is merged over the current params. */
export interface StrategyPatch {
  params?: Params;
  target_weight?: number;
  equity?: number | null;
  symbols?: InstrumentSpec[];
  bar_size?: string;
}

/**
 * ASSUMED (route not in DESIGN section 7): `GET /api/strategies/classes` → the strategy classes found in the
 * `strategies` package, so the UI can offer them for registration. The UI falls back to a free-text class
 * reference when this route answers 404.
 */
export interface StrategyClass {
  /** "strategies.sma_cross:SmaCross" */
  cls: string;
  /** First line of the class docstring. */
  doc?: string;
  /** The class's `params` defaults. */
  params: Params;
}

// ---------------------------------------------------------------------------------------------------- portfolio

/** PINNED: an item of `GET /api/portfolio`.positions. */
export interface PortfolioPosition {
  strategy_id: string;
  symbol: string;
  con_id: number;
  qty: number;
  avg_cost: number;
  market_price: number | null;
  market_value: number | null;
  unrealized_pnl: number | null;
  currency: string;
}

/** PINNED: an item of `GET /api/portfolio`.reconciliation. */
export interface ReconciliationRow {
  con_id: number;
  symbol: string;
  ib_qty: number;
  attributed_qty: number;
  discretionary_qty: number;
  break_qty: number;
  locked: boolean;
}

/** PINNED: `GET /api/portfolio`. */
export interface Portfolio {
  account: string;
  base_currency: string;
  total_equity: number;
  as_of: IsoTime;
  positions: PortfolioPosition[];
  reconciliation: ReconciliationRow[];
  /** ASSUMED (optional, additive): PnL since the daily reset (17:00 America/New_York), base currency. */
  daily_pnl?: number | null;
}

export interface EquityPoint {
  at: IsoTime;
  equity: number;
}

/**
 * ASSUMED: `GET /api/portfolio/equity?strategy_id=&start=&end=` → the equity curve in base currency, of the
 * account (no strategy_id) or of one strategy. `daily_pnl` is equity now minus equity at the last daily reset.
 */
export interface EquityCurve {
  strategy_id: string | null;
  base_currency: string;
  daily_pnl?: number | null;
  points: EquityPoint[];
}

/**
 * ASSUMED: `POST /api/portfolio/reconcile` (no body) → the fresh reconciliation. The UI refetches
 * `GET /api/portfolio` afterwards in any case.
 */
export interface ReconcileResult {
  as_of: IsoTime;
  reconciliation: ReconciliationRow[];
}

/**
 * ASSUMED: `POST /api/portfolio/bookings` body: book `qty` (signed) of contract `con_id` to `strategy_id`
 * (a strategy or "Discretionary") — a "balance" booking. `reason` is required and non-empty; the server records
 * who (the API caller) and when.
 */
export interface BookingRequest {
  con_id: number;
  strategy_id: string;
  qty: number;
  /** Price to book at; null = the current market price. */
  price: number | null;
  reason: string;
}

/** ASSUMED: the reply of `POST /api/portfolio/bookings` (201). */
export interface Booking extends BookingRequest {
  booking_id: string;
  symbol?: string;
  at: IsoTime;
  by?: string;
}

// ---------------------------------------------------------------------------------------------------- fills

export type Side = 'BUY' | 'SELL';

/**
 * ASSUMED: an item of `GET /api/fills?strategy_id=&symbol=&since=&limit=` — one row per execution, already
 * folded (corrections applied, commission joined), newest first. Fields follow `model.Fill`.
 */
export interface FillRow {
  exec_id: string;
  exec_time: IsoTime;
  order_ref: string;
  strategy_id: string;
  con_id: number;
  symbol: string;
  side: Side;
  /** Unsigned. */
  qty: number;
  price: number;
  /** Null until IB's commission report arrives. */
  commission: number | null;
  currency: string;
  perm_id?: number | null;
}

/**
 * `data` of a stream `fill` event after normalize.ts: OrderFilled {fill: Fill} becomes the Fill with kind "fill";
 * CommissionCharged {exec_id, strategy_id, commission, currency} becomes kind "commission" (it may come after
 * the fill). A fill whose exec_id has a higher revision of the same base is a correction and supersedes it.
 */
export type FillEvent =
  | (FillRow & { kind?: 'fill' | 'correction' })
  | { kind: 'commission'; exec_id: string; commission: number; currency?: string };

// ---------------------------------------------------------------------------------------------------- orders

/** From model.OrderState. */
export type OrderState = 'PendingSubmit' | 'Submitted' | 'PartiallyFilled' | 'Filled' | 'Cancelled' | 'Rejected';

/**
 * ASSUMED: an item of `GET /api/orders?strategy_id=&state=open|done|all&limit=` (newest first). A stream `order`
 * event is OrderStatusChanged {status: OrderStatus}, unwrapped by normalize.ts. Fields follow `model.OrderStatus`;
 * ASSUMED optional extras: the order's terms (order_type, limit_price, stop_price, tif).
 */
export interface OrderRow {
  order_ref: string;
  strategy_id: string;
  symbol: string;
  state: OrderState | string;
  /** Signed, as requested (+ buy, − sell). */
  qty: number;
  filled: number;
  remaining: number;
  avg_fill_price: number;
  perm_id?: number | null;
  reason?: string;
  at?: IsoTime | null;
  order_type?: 'MKT' | 'LMT' | 'STP' | 'STP LMT' | string;
  limit_price?: number | null;
  stop_price?: number | null;
  tif?: 'DAY' | 'GTC' | 'IOC' | string;
}

/** ASSUMED: `POST /api/orders/{order_ref}/cancel` → 202 with the order as it stands (cancel requested). */
export type CancelResult = OrderRow;

// ---------------------------------------------------------------------------------------------------- risk

/** ASSUMED: `POST /api/risk/kill-switch` body. Engaging cancels every order (reqGlobalCancel) and stops all strategies. */
export interface KillSwitchRequest {
  engaged: boolean;
  reason: string;
}

/** ASSUMED: reply of `POST /api/risk/kill-switch`. */
export interface KillSwitchState {
  engaged: boolean;
  at?: IsoTime | null;
  reason?: string | null;
}

// ---------------------------------------------------------------------------------------------------- settings

/**
 * PINNED (names from the settings file): `GET /api/settings`. Secrets are redacted by the server
 * (e.g. the `secret=` part of an S3 `arctic_uri`).
 */
export interface Settings {
  data_dir: string;
  arctic_uri: string;
  base_currency: string;
  ib: {
    host: string;
    port: number;
    master_client_id: number;
    max_clients: number;
    live: boolean;
    account: string;
  };
  web: { host: string; port: number };
  risk: {
    max_order_qty: number;
    max_order_notional: number;
    daily_loss_limit: number;
  };
  /** Also in mats.config.Settings; shown, not edited by the UI. */
  daily_pnl_reset?: string;
  daily_pnl_tz?: string;
  storage?: Record<string, unknown>;
  log?: Record<string, unknown>;
  strategies?: unknown[];
  /** Only on the reply of PUT (see SettingsChanged). */
  restart_required?: string[];
}

/** The reply of `PUT /api/settings` (routes/settings.py): the new (redacted) settings and what needs a restart. */
export interface SettingsChanged {
  settings: Settings;
  /** Top-level keys changed that take effect after a restart, e.g. ["ib"]. */
  restart_required: string[];
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/**
 * `PUT /api/settings` takes a partial settings object (only the fields to change, deep-merged into the current
 * settings: mats.config.apply_changes), validates and persists it. A 400's detail reads
 * "settings: ib.port: Expected `int` <= 65535". Sending only changes means a redacted secret is never written back.
 */
export type SettingsUpdate = DeepPartial<Omit<Settings, 'restart_required'>>;

// ---------------------------------------------------------------------------------------------------- arctic

/** ASSUMED: `GET /api/arctic/libraries` → library names. */
export type LibraryList = string[];
/** ASSUMED: `GET /api/arctic/libraries/{lib}/symbols` → symbol names. */
export type SymbolList = string[];

export type Cell = string | number | boolean | null;

/**
 * ASSUMED: `GET /api/arctic/libraries/{lib}/symbols/{symbol}?start=&end=&limit=&tail=` → rows of the symbol
 * (`tail=N`: the last N rows; default the last 200). The index is a column named `index_name`
 * (ISO times for a DatetimeIndex). Bars have open, high, low, close (and volume) columns.
 */
export interface SymbolRows {
  library: string;
  symbol: string;
  index_name: string;
  columns: string[];
  rows: Record<string, Cell>[];
  total_rows: number;
  metadata?: Record<string, unknown> | null;
}

// ---------------------------------------------------------------------------------------------------- backtests

export type BacktestStatus = 'queued' | 'running' | 'done' | 'failed' | string;

/**
 * ASSUMED: `POST /api/backtests` body. Data comes from `market_data/{SYMBOL}_{bar_size}` between `start` and
 * `end` (dates, inclusive). `commission: null` = the IB-like default, 0 = none (as `mats.backtest.run`).
 */
export interface BacktestRequest {
  cls: string;
  symbols: string[];
  start: string;
  end: string;
  params: Params;
  bar_size: string;
  cash: number;
  commission: number | null;
}

/** PINNED keys (DESIGN section 7: mats.backtest stats has at least these); extra keys are shown too. */
export interface BacktestStats {
  final_equity: number;
  total_return: number;
  sharpe: number;
  max_drawdown: number;
  trades: number;
  bars: number;
  [key: string]: number;
}

/** ASSUMED: an item of `GET /api/backtests` (newest first) and the reply of `POST /api/backtests` (202). */
export interface BacktestSummary {
  run_id: string;
  status: BacktestStatus;
  /** 0..1 */
  progress: number;
  request: BacktestRequest;
  created_at: IsoTime;
  finished_at?: IsoTime | null;
  stats: BacktestStats | null;
  error?: string | null;
}

/** ASSUMED: an item of a backtest's fills (as `mats.backtest` result.fills, index as `at`). */
export interface BacktestFill {
  at: IsoTime;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  commission: number;
  strategy_id: string;
}

/**
 * ASSUMED: `GET /api/backtests/{id}` → summary plus its equity curve and fills. The price chart reads its bars
 * from `market_data` through the arctic route.
 */
export interface BacktestResult extends BacktestSummary {
  equity: EquityPoint[];
  fills: BacktestFill[];
}

// ---------------------------------------------------------------------------------------------------- errors

/**
 * ASSUMED: a 4xx/5xx body. Litestar's default is `{"status_code": 400, "detail": "...", "extra": ...}`;
 * `extra` may be a list of `{"key": "target_weight", "message": "..."}` naming the wrong field.
 */
export interface ErrorBody {
  status_code?: number;
  detail?: string;
  extra?: unknown;
}

// ---------------------------------------------------------------------------------------------------- stream

export type StreamType =
  | 'fill'
  | 'order'
  | 'position'
  | 'reconciliation'
  | 'strategy'
  | 'connection'
  | 'risk'
  | 'alert'
  | 'backtest'
  | 'log';

export const STREAM_TYPES: readonly StreamType[] = [
  'fill',
  'order',
  'position',
  'reconciliation',
  'strategy',
  'connection',
  'risk',
  'alert',
  'backtest',
  'log',
];

/** PINNED: every stream message. */
export interface Envelope<T extends StreamType = StreamType, D = unknown> {
  seq: number;
  type: T;
  at: IsoTime;
  data: D;
}

/**
 * Stream authentication (as routes/stream.py implements it): browsers cannot set headers on a WebSocket, so the
 * first message the client sends is `{"token": "...", "since": <last seq seen>}` (`since` omitted on a first
 * connection: only new events). The server answers `{"type": "hello", "last_seq", "oldest_seq", "resumed_from",
 * "gap"}`, replays the events after `since` it still holds, then streams live. With `gap` (or a first seq
 * > since + 1) the UI refetches its REST snapshots. A wrong token closes with 4401, a foreign Origin with 4403,
 * a client too slow with 4408 (the UI reconnects and resumes).
 * The data of each event type is normalised by src/stream/normalize.ts from the engine's event Structs.
 */
export interface StreamHello {
  token: string;
  since?: number;
}
export const WS_CLOSE_UNAUTHORIZED = 4401;
export const WS_CLOSE_FORBIDDEN_ORIGIN = 4403;

/** `data` of a `position` event — a model.Position (PositionChanged.position, unwrapped by normalize.ts). */
export interface PositionEvent {
  strategy_id: string;
  con_id: number;
  symbol: string;
  qty: number;
  avg_cost: number;
  realized_pnl?: number;
  currency?: string;
}

/** ASSUMED: `data` of a `reconciliation` event (PositionsReconciled). */
export interface ReconciliationEvent {
  as_of: IsoTime;
  reconciliation: ReconciliationRow[];
}

/** `data` of a `strategy` event (StrategyStatusChanged; `error` is its `reason` when it failed). */
export interface StrategyEvent {
  strategy_id: string;
  status: StrategyStatus;
  error?: string | null;
}

/** `data` of a `connection` event (ConnectionChanged; `message` is its `detail`). */
export interface ConnectionEvent {
  client_id: number;
  role?: string;
  connected: boolean;
  message?: string | null;
}

/**
 * `data` of a `risk` event: RiskRejected {strategy_id, symbol, reason} (kind "rejected" added by normalize.ts);
 * ASSUMED: lock/unlock and the kill switch as kinds "locked" | "unlocked" | "kill_switch" (with `engaged`).
 */
export interface RiskEvent {
  kind: 'rejected' | 'locked' | 'unlocked' | 'kill_switch' | string;
  strategy_id?: string | null;
  symbol?: string | null;
  con_id?: number | null;
  reason?: string | null;
  engaged?: boolean;
}

export type AlertLevel = 'info' | 'warning' | 'error' | 'critical';

/**
 * `data` of an `alert` event: AlertRaised {kind, message, data} with kind break, lock, disconnect,
 * degraded_storage, loop_lag, …; ActorFailed/ActorStopped are turned into alerts too. `level` is derived from
 * `kind` by normalize.ts when the engine does not send one.
 */
export interface AlertEvent {
  level: AlertLevel | string;
  kind: string;
  message: string;
  strategy_id?: string | null;
  symbol?: string | null;
  con_id?: number | null;
}

/** ASSUMED: `data` of a `backtest` event. */
export interface BacktestEvent {
  run_id: string;
  status: BacktestStatus;
  /** 0..1 */
  progress: number;
  error?: string | null;
}

/** ASSUMED: `data` of a `log` event (a structlog record). */
export interface LogEvent {
  level: string;
  event: string;
  logger?: string;
  [key: string]: unknown;
}
