/** The shell: login gate, navigation, the stream's lifecycle, and the hash routes. */
import { useEffect, useState, type ReactNode } from 'react';
import { api, getToken, onTokenChange, onUnauthorized, setToken } from './api/client';
import type { Health } from './api/types';
import { StreamClient } from './stream/client';
import { liveStore, useLive } from './stream/live';
import { streamUrl } from './stream/protocol';
import { navigate, parseHash, useHash } from './lib/router';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Strategies } from './pages/Strategies';
import { StrategyDetail } from './pages/StrategyDetail';
import { PortfolioPage } from './pages/Portfolio';
import { Blotter } from './pages/Blotter';
import { Backtests } from './pages/Backtests';
import { DataPage } from './pages/Data';
import { SettingsPage } from './pages/Settings';
import { useApi } from './lib/useApi';
import { ErrorBoundary } from './components/ErrorBoundary';

const NAV: { path: string; label: string; key: string }[] = [
  { path: '', label: 'Overview', key: '1' },
  { path: 'strategies', label: 'Strategies', key: '2' },
  { path: 'portfolio', label: 'Portfolio', key: '3' },
  { path: 'blotter', label: 'Orders & Fills', key: '4' },
  { path: 'backtests', label: 'Backtests', key: '5' },
  { path: 'data', label: 'Data', key: '6' },
  { path: 'settings', label: 'Settings', key: '7' },
];

function useToken(): string | null {
  const [token, set] = useState<string | null>(getToken());
  useEffect(() => onTokenChange(set), []);
  return token;
}

function logout(): void {
  setToken(null);
  liveStore.reset();
  navigate('/login');
}

onUnauthorized(() => {
  if (getToken()) logout();
});

function StreamStatusView() {
  const status = useLive((s) => s.status);
  const detail = useLive((s) => s.statusDetail);
  const seq = useLive((s) => s.lastSeq);
  const ok = status === 'open';
  return (
    <span className="stream-status" title={`${detail || status}${seq !== null ? ` · last seq ${seq}` : ''}`} data-testid="stream-status">
      <span className={`dot ${ok ? 'dot-ok' : status === 'reconnecting' || status === 'connecting' ? 'dot-warn' : 'dot-bad'}`} />
      stream {status}
    </span>
  );
}

function Shell({ children, route }: { children: ReactNode; route: string }) {
  const health = useApi<Health>((s) => api.health(s), []);
  const kill = useLive((s) => s.killSwitch);
  const killed = kill ?? health.data?.kill_switch ?? false;
  useEffect(() => {
    const k = health.data?.kill_switch;
    if (typeof k === 'boolean' && liveStore.get().killSwitch === null) liveStore.set({ killSwitch: k });
  }, [health.data]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const n = NAV.find((x) => x.key === e.key);
      if (n) {
        e.preventDefault();
        navigate(`/${n.path}`);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          MATS<span className="brand-sub">{health.data?.mode ?? ''}</span>
        </div>
        <ul>
          {NAV.map((n) => (
            <li key={n.path}>
              <a
                href={`#/${n.path}`}
                className={route === n.path ? 'active' : undefined}
                aria-current={route === n.path ? 'page' : undefined}
                data-testid={`nav-${n.path || 'overview'}`}
                title={`Alt+${n.key}`}
              >
                {n.label}
              </a>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <StreamStatusView />
          <button type="button" className="btn-small" onClick={logout} data-testid="logout">
            Log out
          </button>
        </div>
      </nav>
      <main className="main">
        {killed && (
          <div className="banner banner-kill" role="alert" data-testid="kill-banner">
            Kill switch engaged — all orders cancelled, strategies stopped. Release it in Settings.
          </div>
        )}
        {health.data?.storage === 'degraded' && (
          <div className="banner banner-warn" role="alert">
            Storage degraded — ArcticDB writes are failing; fills are kept in the journal.
          </div>
        )}
        {children}
      </main>
    </div>
  );
}

export function App() {
  const token = useToken();
  const hash = useHash();
  const route = parseHash(hash);

  useEffect(() => {
    if (!token) return;
    const client = new StreamClient({
      url: streamUrl(window.location),
      token: getToken,
      onEvent: (e) => liveStore.dispatch(e),
      onStatus: (status, detail) => liveStore.set({ status, statusDetail: detail ?? '' }),
      onGap: () => liveStore.gap(),
      onUnauthorized: logout,
    });
    client.start();
    return () => client.stop();
  }, [token]);

  if (!token || route.path[0] === 'login') {
    return <Login hasToken={!!token} />;
  }
  const [top = '', sub] = route.path;
  let page: ReactNode;
  switch (top) {
    case '':
      page = <Overview />;
      break;
    case 'strategies':
      page = sub ? <StrategyDetail id={sub} /> : <Strategies />;
      break;
    case 'portfolio':
      page = <PortfolioPage />;
      break;
    case 'blotter':
      page = <Blotter />;
      break;
    case 'backtests':
      page = <Backtests selected={route.query.get('run')} />;
      break;
    case 'data':
      page = <DataPage lib={sub ?? null} symbol={route.path[2] ?? null} />;
      break;
    case 'settings':
      page = <SettingsPage />;
      break;
    default:
      page = (
        <div className="state state-empty">
          No page at <code>{hash}</code>. <a href="#/">Overview</a>
        </div>
      );
  }
  return (
    <Shell route={top} key={token}>
      <ErrorBoundary resetKey={hash}>{page}</ErrorBoundary>
    </Shell>
  );
}
