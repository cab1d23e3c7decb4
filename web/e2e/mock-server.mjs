#!/usr/bin/env node
/**
 * A tiny stand-in for the MATS API, for UI development and the UI's own browser test ONLY.
 * It serves web/dist and canned JSON shaped like web/src/api/types.ts, keeps a little state (strategies,
 * settings, kill switch, bookings, backtests), and runs a /api/stream WebSocket that emits events.
 * The real API is `mats demo` / `mats serve`; nothing here is part of MATS.
 *
 *   node e2e/mock-server.mjs [--port 8765] [--token mock-token]
 */
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PORT = Number(arg('port', process.env.PORT ?? 8765));
const TOKEN = arg('token', process.env.MATS_TOKEN ?? 'mock-token');
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
// --fail /api/portfolio makes that route answer 500: proves the e2e script notices broken pages.
const FAIL = arg('fail', '');

// ------------------------------------------------------------------------------------------------ state
const now = () => new Date().toISOString();
const T0 = Date.UTC(2026, 10, 23, 14, 30); // a fixed session so screenshots are stable
let seq = 0;
let killSwitch = false;
const log = [];

const strategies = [
  {
    strategy_id: 'sma_aapl', cls: 'strategies.sma_cross:SmaCross', symbols: ['AAPL'], params: { fast: 10, slow: 50, qty: 10 },
    target_weight: 0.1, equity: null, bar_size: '1min', status: 'running', client_id: 1, resolved_equity: 100000,
    realized_pnl: 412.5, daily_pnl: 86.2, error: null, updated_at: new Date(T0).toISOString(),
  },
  {
    strategy_id: 'mr_eurusd', cls: 'strategies.mean_revert:MeanRevert', symbols: ['EUR.USD'], params: { window: 20, z: 2.0, qty: 20000 },
    target_weight: 0.05, equity: null, bar_size: '1min', status: 'running', client_id: 2, resolved_equity: 50000,
    realized_pnl: -120.4, daily_pnl: -15.75, error: null, updated_at: new Date(T0).toISOString(),
  },
  {
    strategy_id: 'mom_es', cls: 'strategies.momentum:Momentum',
    symbols: [{ symbol: 'ES', sec_type: 'FUT', exchange: 'CME', currency: 'USD', expiry: '202612' }], params: { lookback: 60, qty: 1 },
    target_weight: 0, equity: 250000, bar_size: '5min', status: 'stopped', client_id: 3, resolved_equity: 250000,
    realized_pnl: 0, daily_pnl: 0, error: null, updated_at: new Date(T0).toISOString(),
  },
];
const classes = [
  { cls: 'strategies.sma_cross:SmaCross', doc: 'Long-only SMA crossover', params: { fast: 10, slow: 50, qty: 10 } },
  { cls: 'strategies.mean_revert:MeanRevert', doc: 'Z-score mean reversion', params: { window: 20, z: 2.0, qty: 20000 } },
  { cls: 'strategies.momentum:Momentum', doc: 'Time-series momentum', params: { lookback: 60, qty: 1 } },
];

const positions = [
  { strategy_id: 'sma_aapl', symbol: 'AAPL', con_id: 265598, qty: 10, avg_cost: 189.1, market_price: 190.2, market_value: 1902.0, unrealized_pnl: 11.0, currency: 'USD' },
  { strategy_id: 'mr_eurusd', symbol: 'EUR.USD', con_id: 12087792, qty: -20000, avg_cost: 1.08512, market_price: 1.08437, market_value: -21687.4, unrealized_pnl: 15.0, currency: 'USD' },
  { strategy_id: 'Discretionary', symbol: 'MSFT', con_id: 272093, qty: 5, avg_cost: 410.0, market_price: 412.35, market_value: 2061.75, unrealized_pnl: 11.75, currency: 'USD' },
];
let reconciliation = [
  { con_id: 265598, symbol: 'AAPL', ib_qty: 10, attributed_qty: 10, discretionary_qty: 0, break_qty: 0, locked: false },
  { con_id: 12087792, symbol: 'EUR.USD', ib_qty: -20000, attributed_qty: -20000, discretionary_qty: 0, break_qty: 0, locked: false },
  { con_id: 272093, symbol: 'MSFT', ib_qty: 5, attributed_qty: 0, discretionary_qty: 5, break_qty: 0, locked: false },
  { con_id: 76792991, symbol: 'TSLA', ib_qty: 3, attributed_qty: 0, discretionary_qty: 0, break_qty: 3, locked: true },
];

const fills = [];
const orders = [];
let execN = 1;
function addFill(strategy_id, symbol, con_id, side, qty, price, at, commission = 1.0) {
  const exec_id = `0000e0d5.${(6543 + execN).toString(16)}.01`;
  const order_ref = strategy_id === 'Discretionary' ? '' : `mats:${strategy_id}:01JD${String(execN).padStart(22, '0')}`;
  execN += 1;
  const f = { exec_id, exec_time: at, order_ref, strategy_id, con_id, symbol, side, qty, price, commission, currency: 'USD', perm_id: 1000 + execN };
  fills.unshift(f);
  orders.unshift({
    order_ref, strategy_id, symbol, state: 'Filled', qty: side === 'BUY' ? qty : -qty, filled: qty, remaining: 0, avg_fill_price: price,
    perm_id: f.perm_id, reason: '', at, order_type: 'MKT', limit_price: null, stop_price: null, tif: 'DAY',
  });
  return f;
}
for (let i = 0; i < 12; i++) {
  const at = new Date(T0 + i * 17 * 60_000).toISOString();
  if (i % 3 === 0) addFill('sma_aapl', 'AAPL', 265598, i % 2 ? 'SELL' : 'BUY', 10, 189.1 + i * 0.13, at, 1.0);
  else if (i % 3 === 1) addFill('mr_eurusd', 'EUR.USD', 12087792, i % 2 ? 'SELL' : 'BUY', 20000, 1.0851 + i * 0.00007, at, 2.0);
  else addFill('Discretionary', 'MSFT', 272093, 'BUY', 5, 410.0, at, 1.0);
}
orders.unshift({
  order_ref: 'mats:sma_aapl:01JDOPENLIMIT000000000001', strategy_id: 'sma_aapl', symbol: 'AAPL', state: 'Submitted', qty: -10, filled: 0, remaining: 10,
  avg_fill_price: 0, perm_id: 2001, reason: '', at: new Date(T0 + 4 * 3600_000).toISOString(), order_type: 'LMT', limit_price: 195.5, stop_price: null, tif: 'GTC',
});

let settings = {
  data_dir: '.mats/demo', arctic_uri: 'lmdb://.mats/demo/arctic', base_currency: 'USD',
  ib: { host: '127.0.0.1', port: 7497, master_client_id: 99, max_clients: 32, live: false, account: '' },
  web: { host: '127.0.0.1', port: 8000 },
  risk: { max_order_qty: 10000, max_order_notional: 1000000.0, daily_loss_limit: 0.0 },
};

function equityPoints(n, start, base, drift, seed) {
  const pts = [];
  let e = base;
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 9301 + 49297) % 233280;
    e += drift + ((s / 233280) - 0.5) * base * 0.002;
    pts.push({ at: new Date(start + i * 60_000 * 5).toISOString(), equity: Math.round(e * 100) / 100 });
  }
  return pts;
}
const accountEquity = equityPoints(160, T0 - 160 * 5 * 60_000 + 6.5 * 3600_000, 999_200, 6, 7);

function bars(symbol, n, start, p0, stepMs = 60_000) {
  const out = [];
  let p = p0;
  let s = symbol.length * 31;
  for (let i = 0; i < n; i++) {
    s = (s * 9301 + 49297) % 233280;
    const o = p;
    const c = Math.round((p + ((s / 233280) - 0.49) * p0 * 0.004) * 100) / 100;
    const h = Math.max(o, c) + Math.round(p0 * 0.001 * 100) / 100;
    const l = Math.min(o, c) - Math.round(p0 * 0.001 * 100) / 100;
    out.push({ time: new Date(start + i * stepMs).toISOString(), open: o, high: h, low: l, close: c, volume: 1000 + (s % 5000) });
    p = c;
  }
  return out;
}
const BT_START = Date.UTC(2026, 9, 1, 13, 30);
const marketData = {
  AAPL_1min: bars('AAPL', 390, BT_START, 189),
  MSFT_1min: bars('MSFT', 390, BT_START, 410),
  'EUR.USD_1min': bars('EUR.USD', 390, BT_START, 1.085),
};

const backtests = [];
function makeBacktest(request, { status = 'done', created = now() } = {}) {
  const run_id = `bt_${(backtests.length + 1).toString().padStart(3, '0')}_${Math.random().toString(36).slice(2, 8)}`;
  const sym = request.symbols[0];
  const b = marketData[`${sym}_${request.bar_size}`] ?? marketData.AAPL_1min;
  const fast = Number(request.params.fast ?? 10);
  const equity = [];
  const fillsOut = [];
  let cash = request.cash;
  let pos = 0;
  b.forEach((bar, i) => {
    if (i > 0 && i % (fast * 4) === 0) {
      const side = pos === 0 ? 'BUY' : 'SELL';
      const qty = Number(request.params.qty ?? 10);
      fillsOut.push({ at: bar.time, symbol: sym, side, qty, price: bar.open, commission: 1.0, strategy_id: 'backtest' });
      cash += (side === 'BUY' ? -1 : 1) * qty * bar.open - 1.0;
      pos += side === 'BUY' ? qty : -qty;
    }
    equity.push({ at: bar.time, equity: Math.round((cash + pos * bar.close) * 100) / 100 });
  });
  const final = equity.at(-1).equity;
  let peak = -Infinity;
  let mdd = 0;
  for (const p of equity) {
    peak = Math.max(peak, p.equity);
    mdd = Math.min(mdd, p.equity / peak - 1);
  }
  const run = {
    run_id, status, progress: status === 'done' ? 1 : 0, request, created_at: created, finished_at: status === 'done' ? created : null,
    stats: status === 'done'
      ? { final_equity: final, total_return: final / request.cash - 1, sharpe: 0.8 + fast / 50, max_drawdown: mdd, trades: fillsOut.length, bars: b.length }
      : null,
    error: null, equity, fills: fillsOut,
  };
  backtests.unshift(run);
  return run;
}
const btReq = (fast) => ({ cls: 'strategies.sma_cross:SmaCross', symbols: ['AAPL'], start: '2026-10-01', end: '2026-10-01', params: { fast, slow: 50, qty: 10 }, bar_size: '1min', cash: 100000, commission: null });
makeBacktest(btReq(10), { created: new Date(T0 - 86400_000).toISOString() });
makeBacktest(btReq(5), { created: new Date(T0 - 3600_000).toISOString() });
const summary = ({ equity: _e, fills: _f, ...rest }) => rest;

function connection() {
  return {
    host: settings.ib.host, port: settings.ib.port, account: 'DU0000001', connected: true,
    clients: [
      // As src/mats/api/routes/connection.py: client_id, role, state, connects, last_error, stale_farms.
      { client_id: 0, role: 'engine', state: 'connected', connects: 1, last_error: '', stale_farms: [] },
      { client_id: 99, role: 'recorder', state: 'connected', connects: 2, last_error: '1102 Connectivity restored, data maintained', stale_farms: [] },
      ...strategies.map((s) => ({ client_id: s.client_id, role: 'strategy', state: s.status === 'running' ? 'connected' : 'stopped', connects: 1, last_error: '', stale_farms: [] })),
    ],
  };
}

// ------------------------------------------------------------------------------------------------ stream
const sockets = new Set();
const history = [];
function publish(type, data) {
  const env = { seq: ++seq, type, at: now(), data };
  history.push(env);
  if (history.length > 1000) history.shift();
  const msg = JSON.stringify(env);
  for (const ws of sockets) if (ws.authed) ws.send(msg);
}

// ------------------------------------------------------------------------------------------------ http
const json = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
};
const bad = (res, status, detail, key) =>
  json(res, status, { status_code: status, detail, ...(key ? { extra: [{ key, message: detail }] } : {}) });

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const t = Buffer.concat(chunks).toString();
  return t ? JSON.parse(t) : {};
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json', '.json': 'application/json' };

async function serveStatic(res, path) {
  const rel = normalize(decodeURIComponent(path)).replace(/^(\.\.[/\\])+/, '');
  let file = join(DIST, rel === '/' ? 'index.html' : rel);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const data = await readFile(file);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
    res.end(data);
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found (run `npm run build` first)');
  }
}

async function route(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const m = req.method;
  if (!p.startsWith('/api/')) return serveStatic(res, p);
  if (FAIL && p === FAIL) return bad(res, 500, `forced failure of ${FAIL}`);
  if (p === '/api/health')
    return json(res, 200, {
      status: 'ok', version: '0.0.0-mock', uptime_s: 42, loop_lag: { p50_ms: 0.2, p99_ms: 1.1, max_ms: 3.0 }, unhandled_exceptions: 0, event_seq: seq, stream_clients: sockets.size,
      // ASSUMED additions (see web/src/api/types.ts)
      storage: 'ok', kill_switch: killSwitch, mode: 'mock',
    });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return bad(res, 401, 'Invalid or missing API token');
  const q = url.searchParams;
  let mm;
  if (p === '/api/connection' && m === 'GET') return json(res, 200, connection());
  if ((mm = p.match(/^\/api\/connection\/(connect|disconnect)$/)) && m === 'POST') return json(res, 200, connection());
  if (p === '/api/strategies' && m === 'GET') return json(res, 200, strategies);
  if (p === '/api/strategies/classes' && m === 'GET') return json(res, 200, classes);
  if (p === '/api/strategies' && m === 'POST') {
    const b = await body(req);
    if (!b.strategy_id) return bad(res, 400, 'strategy_id is required', 'strategy_id');
    if (strategies.some((s) => s.strategy_id === b.strategy_id)) return bad(res, 409, `strategy_id ${b.strategy_id} exists`, 'strategy_id');
    const s = { ...b, status: 'stopped', client_id: 4 + strategies.length, resolved_equity: null, realized_pnl: 0, daily_pnl: 0, error: null, updated_at: now() };
    strategies.push(s);
    publish('strategy', { strategy_id: s.strategy_id, status: 'registered', reason: '' });
    return json(res, 201, s);
  }
  if ((mm = p.match(/^\/api\/strategies\/([^/]+)(?:\/(start|stop))?$/))) {
    const id = decodeURIComponent(mm[1]);
    const s = strategies.find((x) => x.strategy_id === id);
    if (!s) return bad(res, 404, `no strategy ${id}`);
    if (mm[2] && m === 'POST') {
      if (mm[2] === 'start' && killSwitch) return bad(res, 409, 'kill switch engaged');
      s.status = mm[2] === 'start' ? 'running' : 'stopped';
      publish('strategy', { strategy_id: id, status: s.status, reason: '' });
      publish('connection', { client_id: s.client_id, role: 'strategy', connected: s.status === 'running', detail: '' });
      return json(res, 200, s);
    }
    if (m === 'GET') return json(res, 200, s);
    if (m === 'PATCH') {
      const b = await body(req);
      if (b.target_weight !== undefined && (b.target_weight < 0 || b.target_weight > 1)) return bad(res, 400, 'target_weight must be within [0, 1]', 'target_weight');
      Object.assign(s, { ...b, params: { ...s.params, ...(b.params ?? {}) }, updated_at: now() });
      return json(res, 200, s);
    }
    if (m === 'DELETE') {
      strategies.splice(strategies.indexOf(s), 1);
      res.writeHead(204);
      return res.end();
    }
  }
  if (p === '/api/portfolio' && m === 'GET')
    return json(res, 200, { account: 'DU0000001', base_currency: 'USD', total_equity: accountEquity.at(-1).equity, as_of: now(), positions, reconciliation, daily_pnl: 1234.56 });
  if (p === '/api/portfolio/equity' && m === 'GET') {
    const sid = q.get('strategy_id');
    const pts = sid ? equityPoints(120, T0, strategies.find((s) => s.strategy_id === sid)?.resolved_equity ?? 100000, 2, sid.length) : accountEquity;
    return json(res, 200, { strategy_id: sid, base_currency: 'USD', daily_pnl: sid ? 10 : 1234.56, points: pts });
  }
  if (p === '/api/portfolio/reconcile' && m === 'POST') {
    publish('reconciliation', { as_of: now(), reconciliation });
    return json(res, 200, { as_of: now(), reconciliation });
  }
  if (p === '/api/portfolio/bookings' && m === 'POST') {
    const b = await body(req);
    if (!b.reason || !String(b.reason).trim()) return bad(res, 400, 'reason is required', 'reason');
    const r = reconciliation.find((x) => x.con_id === b.con_id);
    if (!r) return bad(res, 404, `no contract ${b.con_id}`, 'con_id');
    if (b.strategy_id === 'Discretionary') r.discretionary_qty += b.qty;
    else r.attributed_qty += b.qty;
    r.break_qty = r.ib_qty - r.attributed_qty - r.discretionary_qty;
    r.locked = r.break_qty !== 0;
    const pos = positions.find((x) => x.strategy_id === b.strategy_id && x.con_id === b.con_id);
    if (pos) pos.qty += b.qty;
    else positions.push({ strategy_id: b.strategy_id, symbol: r.symbol, con_id: r.con_id, qty: b.qty, avg_cost: b.price ?? 250, market_price: 251, market_value: 251 * b.qty, unrealized_pnl: 0, currency: 'USD' });
    publish('reconciliation', { as_of: now(), reconciliation });
    return json(res, 201, { ...b, booking_id: `bk_${Date.now()}`, symbol: r.symbol, at: now(), by: 'api' });
  }
  if (p === '/api/fills' && m === 'GET') {
    const sid = q.get('strategy_id');
    return json(res, 200, fills.filter((f) => !sid || f.strategy_id === sid));
  }
  if (p === '/api/orders' && m === 'GET') {
    const sid = q.get('strategy_id');
    return json(res, 200, orders.filter((o) => !sid || o.strategy_id === sid));
  }
  if ((mm = p.match(/^\/api\/orders\/([^/]+)\/cancel$/)) && m === 'POST') {
    const ref = decodeURIComponent(mm[1]);
    const o = orders.find((x) => x.order_ref === ref);
    if (!o) return bad(res, 404, `no order ${ref}`);
    o.state = 'Cancelled';
    o.at = now();
    publish('order', { status: o });
    return json(res, 202, o);
  }
  if (p === '/api/risk/kill-switch' && m === 'POST') {
    const b = await body(req);
    killSwitch = !!b.engaged;
    if (killSwitch) for (const s of strategies) if (s.status === 'running') {
      s.status = 'stopped';
      publish('strategy', { strategy_id: s.strategy_id, status: 'stopped', reason: 'kill switch' });
    }
    publish('risk', { kind: 'kill_switch', engaged: killSwitch, reason: b.reason });
    return json(res, 200, { engaged: killSwitch, at: now(), reason: b.reason });
  }
  if (p === '/api/settings' && m === 'GET') return json(res, 200, settings);
  if (p === '/api/settings' && m === 'PUT') {
    const b = await body(req);
    // As routes/settings.py: a ValidationException whose detail names the key; the reply is {settings, restart_required}.
    if (b.ib?.port !== undefined && !(Number.isInteger(b.ib.port) && b.ib.port > 0 && b.ib.port < 65536)) return json(res, 400, { status_code: 400, detail: 'settings: ib.port: Expected `int` <= 65535' });
    settings = { ...settings, ...b, ib: { ...settings.ib, ...(b.ib ?? {}) }, web: { ...settings.web, ...(b.web ?? {}) }, risk: { ...settings.risk, ...(b.risk ?? {}) } };
    const restart = Object.keys(b).filter((k) => ['data_dir', 'arctic_uri', 'ib', 'web', 'storage', 'log'].includes(k)).sort();
    return json(res, 200, { settings, restart_required: restart });
  }
  if (p === '/api/arctic/libraries' && m === 'GET') return json(res, 200, ['general', 'DU0000001', 'market_data', 'backtests']);
  if ((mm = p.match(/^\/api\/arctic\/libraries\/([^/]+)\/symbols$/)) && m === 'GET') {
    const lib = decodeURIComponent(mm[1]);
    const map = { general: ['strategies'], DU0000001: ['fills', 'orders', 'portfolio', 'strategy_sma_aapl'], market_data: Object.keys(marketData), backtests: backtests.map((b) => `${b.run_id}_equity`) };
    if (!map[lib]) return bad(res, 404, `no library ${lib}`);
    return json(res, 200, map[lib]);
  }
  if ((mm = p.match(/^\/api\/arctic\/libraries\/([^/]+)\/symbols\/([^/]+)$/)) && m === 'GET') {
    const lib = decodeURIComponent(mm[1]);
    const sym = decodeURIComponent(mm[2]);
    if (lib === 'market_data' && marketData[sym]) {
      const all = marketData[sym];
      const tail = Number(q.get('tail') ?? 0);
      const rows = q.get('start') ? all : all.slice(-(tail || 200));
      return json(res, 200, { library: lib, symbol: sym, index_name: 'time', columns: ['open', 'high', 'low', 'close', 'volume'], rows, total_rows: all.length, metadata: null });
    }
    if (lib === 'DU0000001' && sym === 'fills') {
      const rows = fills.map((f) => ({ recorded_at: f.exec_time, exec_id: f.exec_id, kind: 'fill', strategy_id: f.strategy_id, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission }));
      return json(res, 200, { library: lib, symbol: sym, index_name: 'recorded_at', columns: ['exec_id', 'kind', 'strategy_id', 'symbol', 'side', 'qty', 'price', 'commission'], rows, total_rows: rows.length, metadata: { last_journal_seq: 12 } });
    }
    if (lib === 'general' && sym === 'strategies') {
      const rows = strategies.map((s) => ({ idx: s.strategy_id, cls: s.cls, client_id: s.client_id, target_weight: s.target_weight, status: s.status }));
      return json(res, 200, { library: lib, symbol: sym, index_name: 'idx', columns: ['cls', 'client_id', 'target_weight', 'status'], rows, total_rows: rows.length });
    }
    return json(res, 200, { library: lib, symbol: sym, index_name: 'index', columns: [], rows: [], total_rows: 0 });
  }
  if (p === '/api/backtests' && m === 'GET') return json(res, 200, backtests.map(summary));
  if (p === '/api/backtests' && m === 'POST') {
    const b = await body(req);
    if (!b.symbols?.length) return bad(res, 400, 'symbols must not be empty', 'symbols');
    const run = makeBacktest(b, { status: 'running' });
    const stats = {
      final_equity: run.equity.at(-1).equity, total_return: run.equity.at(-1).equity / b.cash - 1, sharpe: 1.1, max_drawdown: -0.012, trades: run.fills.length, bars: run.equity.length,
    };
    let k = 0;
    const timer = setInterval(() => {
      k += 1;
      run.progress = Math.min(1, k / 5);
      if (k >= 5) {
        run.status = 'done';
        run.stats = stats;
        run.finished_at = now();
        clearInterval(timer);
      }
      publish('backtest', { run_id: run.run_id, status: run.status, progress: run.progress });
    }, 300);
    return json(res, 202, summary(run));
  }
  if ((mm = p.match(/^\/api\/backtests\/([^/]+)$/)) && m === 'GET') {
    const run = backtests.find((b) => b.run_id === decodeURIComponent(mm[1]));
    return run ? json(res, 200, run) : bad(res, 404, 'no such backtest');
  }
  return bad(res, 404, `no route ${m} ${p}`);
}

const server = createServer((req, res) => {
  route(req, res).catch((e) => {
    log.push(String(e));
    json(res, 500, { status_code: 500, detail: String(e) });
  });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, sock, head) => {
  if (new URL(req.url, 'http://x').pathname !== '/api/stream') return sock.destroy();
  wss.handleUpgrade(req, sock, head, (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.once('message', (raw) => {
      let hello;
      try {
        hello = JSON.parse(String(raw));
      } catch {
        return ws.close(4400, 'first message must be {"token": ...}');
      }
      if (hello.token !== TOKEN) return ws.close(4401, 'unauthorized');
      ws.authed = true;
      // As routes/stream.py: a hello first, then the events after `since` still held, then live.
      const oldest = history[0]?.seq ?? seq + 1;
      const since = typeof hello.since === 'number' ? hello.since : null;
      ws.send(JSON.stringify({ type: 'hello', last_seq: seq, oldest_seq: oldest, resumed_from: since, gap: since !== null && since + 1 < oldest }));
      if (since !== null) for (const e of history) if (e.seq > since) ws.send(JSON.stringify(e));
    });
  });
});

// A little life: a fill every few seconds on sma_aapl with its commission report a moment later.
let tick = 0;
setInterval(() => {
  tick += 1;
  const price = Math.round((190 + Math.sin(tick / 3)) * 100) / 100;
  const side = tick % 2 ? 'BUY' : 'SELL';
  const f = addFill('sma_aapl', 'AAPL', 265598, side, 10, price, now(), null);
  // The engine's event Structs (src/mats/messages.py): OrderStatusChanged, OrderFilled, CommissionCharged.
  publish('order', { status: orders[0] });
  publish('fill', { fill: { ...f, commission: null } });
  setTimeout(() => {
    f.commission = 1.0;
    publish('fill', { exec_id: f.exec_id, strategy_id: f.strategy_id, commission: 1.0, currency: 'USD' });
  }, 400);
  if (tick === 2) publish('risk', { strategy_id: 'mr_eurusd', symbol: 'EUR.USD', reason: 'order notional 1,250,000 exceeds max_order_notional 1,000,000' });
  if (tick === 4) publish('alert', { kind: 'loop_lag', message: 'event loop lag 12.4 ms', data: { lag_ms: 12.4 } });
  if (tick === 3) publish('reconciliation', { as_of: now(), reconciliation });
}, 2500);

server.listen(PORT, '127.0.0.1', () => {
  console.log(`mock MATS API on http://127.0.0.1:${PORT}  token: ${TOKEN}`);
});
