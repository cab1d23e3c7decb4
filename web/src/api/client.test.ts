// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, buildUrl, describeError, getToken, onUnauthorized, setToken } from './client';

function mockFetch(status: number, body: unknown) {
  const fn = vi.fn(async (_url: string, _init?: RequestInit) =>
    new Response(body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body), { status }),
  );
  vi.stubGlobal('fetch', fn);
  return fn;
}

afterEach(() => {
  vi.unstubAllGlobals();
  onUnauthorized(() => {});
});

describe('api client', () => {
  it('sends the bearer token from sessionStorage', async () => {
    setToken('s3cret');
    const f = mockFetch(200, []);
    await api.strategies();
    const [url, init] = f.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/strategies');
    expect((init.headers as Record<string, string>)['Authorization']).toBe('Bearer s3cret');
  });

  it('calls /api/health without a token', async () => {
    setToken('s3cret');
    const f = mockFetch(200, { status: 'ok' });
    await api.health();
    const init = f.mock.calls[0]?.[1] as RequestInit;
    expect((init.headers as Record<string, string>)['Authorization']).toBeUndefined();
  });

  it('on 401 calls the unauthorized handler (back to login)', async () => {
    setToken('old');
    const handler = vi.fn();
    onUnauthorized(handler);
    mockFetch(401, { status_code: 401, detail: 'Unauthorized' });
    await expect(api.portfolio()).rejects.toMatchObject({ status: 401 });
    expect(handler).toHaveBeenCalledOnce();
  });

  it('checking a token at login does not trigger the logout handler', async () => {
    const handler = vi.fn();
    onUnauthorized(handler);
    mockFetch(401, '');
    await expect(api.checkToken('wrong')).rejects.toThrow('Invalid or missing API token');
    expect(handler).not.toHaveBeenCalled();
    expect(getToken()).toBeNull();
  });

  it("surfaces the server's message and the field a 4xx names", async () => {
    setToken('t');
    mockFetch(400, { status_code: 400, detail: 'Validation failed for POST /api/strategies', extra: [{ key: 'target_weight', message: 'must be within [0, 1], got 1.5' }] });
    const err = await api.registerStrategy({ strategy_id: 'x', cls: 'strategies.a:B', symbols: ['AAPL'], params: {}, target_weight: 1.5, equity: null, bar_size: '1min' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).field).toBe('target_weight');
    expect((err as ApiError).message).toBe('Validation failed for POST /api/strategies — target_weight: must be within [0, 1], got 1.5');
  });

  it('encodes order refs and arctic names into the path and sends JSON bodies', async () => {
    setToken('t');
    const f = mockFetch(202, { order_ref: 'mats:s:1', state: 'Submitted' });
    await api.cancelOrder('mats:sma_aapl:01JD');
    expect(f.mock.calls[0]?.[0]).toBe('/api/orders/mats%3Asma_aapl%3A01JD/cancel');
    mockFetch(200, {});
    await api.rows('market_data', 'EUR.USD_1min', { tail: 50 });
    const g = mockFetch(201, {});
    await api.book({ con_id: 1, strategy_id: 'Discretionary', qty: 3, price: null, reason: 'TWS trade' });
    const init = g.mock.calls[0]?.[1] as RequestInit;
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ con_id: 1, strategy_id: 'Discretionary', qty: 3, price: null, reason: 'TWS trade' });
  });

  it('reports an unreachable server clearly', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(api.connection()).rejects.toThrow(/Cannot reach the MATS API/);
  });

  it('builds query strings without empty values', () => {
    expect(buildUrl('/api/fills', { strategy_id: 'a', symbol: '', limit: 5, since: undefined })).toBe('/api/fills?strategy_id=a&limit=5');
    expect(describeError(500, 'Internal Server Error')).toEqual({ message: 'Internal Server Error', field: null });
    expect(describeError(422, { detail: 'bad', extra: { key: 'ib.port', message: 'out of range' } })).toEqual({ message: 'bad — ib.port: out of range', field: 'ib.port' });
    // mats.config's message puts the key second
    expect(describeError(400, { status_code: 400, detail: 'settings: ib.port: Expected `int` <= 65535' })).toEqual({
      message: 'settings: ib.port: Expected `int` <= 65535',
      field: 'ib.port',
    });
  });

  it('accepts the settings PUT reply with or without the {settings, restart_required} wrapper', async () => {
    setToken('t');
    const settings = { data_dir: '.mats', arctic_uri: 'lmdb://x', base_currency: 'USD', ib: {}, web: {}, risk: {} };
    mockFetch(200, { settings, restart_required: ['ib'] });
    expect(await api.putSettings({ ib: { port: 4002 } })).toEqual({ settings, restart_required: ['ib'] });
    mockFetch(200, settings);
    expect(await api.putSettings({ risk: { max_order_qty: 5 } })).toEqual({ settings, restart_required: [] });
  });
});
