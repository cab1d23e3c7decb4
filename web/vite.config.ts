/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The built UI is served by the MATS API at `/` from web/dist (hash routes: no SPA fallback needed).
// `npm run dev` proxies the API (HTTP and the /api/stream WebSocket) to a running `mats demo` / `mats serve`.
const api = process.env.MATS_API_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
  server: {
    port: 5173,
    strictPort: false,
    proxy: {
      '/api': {
        target: api,
        ws: true,
        // The API checks the WebSocket's Origin against its own address; present the proxied socket as same-origin.
        configure: (proxy) => {
          proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('origin', api));
        },
      },
      '/schema': { target: api },
    },
  },
  test: {
    // Pure logic runs in node (fast); DOM tests opt in with `// @vitest-environment jsdom`.
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
