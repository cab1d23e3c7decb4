#!/usr/bin/env node
/**
 * Runs e2e/run.mjs against e2e/mock-server.mjs (run `npm run build` first). For UI work without the API.
 * Then proves the guard: with /api/portfolio forced to fail, run.mjs must exit non-zero.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const token = 'mock-token';

async function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
}

async function withMock(extra, env, quiet = false) {
  const port = await freePort();
  const server = spawn(process.execPath, [here('./mock-server.mjs'), '--port', String(port), '--token', token, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((ok, fail) => {
    server.stdout.on('data', (d) => String(d).includes('mock MATS API') && ok());
    server.on('exit', (c) => fail(new Error(`mock server exited ${c}`)));
  });
  const run = spawn(process.execPath, [here('./run.mjs')], {
    stdio: quiet ? 'ignore' : 'inherit',
    env: { ...process.env, MATS_URL: `http://127.0.0.1:${port}`, MATS_TOKEN: token, ...env },
  });
  const code = await new Promise((ok) => run.on('exit', ok));
  server.kill();
  return code;
}

const code = await withMock([], { MATS_E2E_MUTATE: process.env.MATS_E2E_MUTATE ?? '1' });
if (code !== 0) process.exit(code ?? 1);

// The screenshots of the good run stay; the guard run writes its own into a scratch dir.
const guard = await withMock(['--fail', '/api/portfolio'], { MATS_E2E_MUTATE: '0', MATS_E2E_TIMEOUT: '5000', MATS_E2E_OUT: here('../node_modules/.tmp/e2e-guard/') }, true);
if (guard === 0) {
  console.error('guard check FAILED: run.mjs passed although /api/portfolio answered 500');
  process.exit(1);
}
console.log('guard check ok: run.mjs fails when a page shows an error (exit %d)', guard);
