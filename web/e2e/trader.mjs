#!/usr/bin/env node
/**
 * What a trader checks, in a real browser against a real `mats demo` (simulator included):
 *   1. a fill in the blotter shows exactly the price, qty and commission the simulator executed;
 *   2. a trade typed "into TWS" (the simulator's admin endpoint) shows up, after Reconcile, as exactly that
 *      quantity in Discretionary.
 *
 *   MATS_URL=… MATS_TOKEN=… MATS_SIM_ADMIN=http://127.0.0.1:PORT node e2e/trader.mjs
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const URL_ = (process.env.MATS_URL ?? '').replace(/\/$/, '');
const TOKEN = process.env.MATS_TOKEN;
const ADMIN = (process.env.MATS_SIM_ADMIN ?? '').replace(/\/$/, '');
const TIMEOUT = Number(process.env.MATS_E2E_TIMEOUT ?? 30000);
const OUT = process.env.MATS_E2E_OUT ?? fileURLToPath(new URL('../test-results/', import.meta.url));
if (!URL_ || !TOKEN || !ADMIN) {
  console.error('MATS_URL, MATS_TOKEN and MATS_SIM_ADMIN are required');
  process.exit(2);
}

const errors = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
page.setDefaultTimeout(TIMEOUT);
page.on('console', (m) => m.type() === 'error' && !/strategies\/classes/.test(m.location()?.url ?? '') && errors.push(`console: ${m.text()}`));
page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
const tid = (id) => page.getByTestId(id);
const num = (text) => Number(String(text).replace(/[^0-9.\-]/g, ''));
const admin = async (path, body) => {
  const r = await fetch(`${ADMIN}${path}`, body ? { method: 'POST', body: JSON.stringify(body) } : undefined);
  if (!r.ok) throw new Error(`sim admin ${path}: ${r.status}`);
  return r.json();
};
function check(ok, what) {
  if (!ok) throw new Error(what);
  console.log(`ok   ${what}`);
}

try {
  await page.goto(`${URL_}/#/login`);
  await tid('login-token').fill(TOKEN);
  await tid('login-submit').click();
  await tid('page-overview').waitFor();

  // 1. The blotter against the simulator's own executions.
  await page.goto(`${URL_}/#/blotter`);
  const row = tid('fill-row').first();
  await row.waitFor();
  const execId = await row.getAttribute('data-exec-id');
  await page.waitForFunction(
    (id) => !document.querySelector(`[data-exec-id="${id}"] [data-col="commission"] .muted`), execId);
  const shown = {
    qty: num(await row.locator('[data-col="qty"]').innerText()),
    price: num(await row.locator('[data-col="price"]').innerText()),
    commission: num(await row.locator('[data-col="commission"]').innerText()),
  };
  const executed = (await admin('/executions')).find((e) => e.exec_id === execId);
  check(executed !== undefined, `blotter fill ${execId} is one the simulator executed`);
  check(shown.qty === executed.shares, `qty ${shown.qty} = simulator ${executed.shares}`);
  check(Math.abs(shown.price - executed.price) < 1e-6, `price ${shown.price} = simulator ${executed.price}`);
  check(Math.abs(shown.commission - executed.commission) < 0.005, `commission ${shown.commission} = simulator ${executed.commission}`);
  await page.screenshot({ path: `${OUT}/trader-blotter.png` });

  // 2. A manual TWS trade lands in Discretionary.
  await admin('/control/place_manual_order', { symbol: 'SPY', action: 'BUY', quantity: 3 });
  await page.goto(`${URL_}/#/portfolio`);
  await tid('reconcile').click();
  const spy = page.locator('[data-testid="recon-row"][data-symbol="SPY"]');
  await spy.waitFor();
  const discretionary = num(await spy.locator('[data-col="discretionary"]').innerText());
  const ib = num(await spy.locator('[data-col="ib"]').innerText());
  check(discretionary === 3, `Discretionary holds exactly the 3 SPY typed into TWS (shows ${discretionary})`);
  check(ib === 3, `IB net SPY is 3 (shows ${ib})`);
  await page.screenshot({ path: `${OUT}/trader-discretionary.png` });
  check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join('; ')}` : ''}`);
} catch (e) {
  console.error(`FAIL ${e.message}`);
  for (const err of errors) console.error(`  - ${err}`);
  await page.screenshot({ path: `${OUT}/trader-failure.png` }).catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
