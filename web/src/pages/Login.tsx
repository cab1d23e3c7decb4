import { useState, type FormEvent } from 'react';
import { api, setToken } from '../api/client';
import { navigate } from '../lib/router';
import { useApi } from '../lib/useApi';

export function Login({ hasToken }: { hasToken: boolean }) {
  const [token, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const health = useApi((s) => api.health(s), []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter the API token that `mats demo` / `mats serve` printed (or MATS_API_TOKEN).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.checkToken(t);
      setToken(t);
      navigate('/');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-wrap">
      <form className="login" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">MATS</h1>
        <p className="muted">Multi-strategy automated trading for Interactive Brokers</p>
        <label className="field">
          <span className="field-label">API token</span>
          <input
            type="password"
            autoFocus
            autoComplete="current-password"
            value={token}
            onChange={(e) => setValue(e.target.value)}
            data-testid="login-token"
            aria-invalid={!!error}
          />
        </label>
        {error && (
          <div className="state state-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <button type="submit" className="btn-primary" disabled={busy} data-testid="login-submit">
          {busy ? 'Checking…' : 'Log in'}
        </button>
        {hasToken && (
          <button type="button" onClick={() => navigate('/')} className="btn-link">
            Back to the desk
          </button>
        )}
        <p className="muted small" data-testid="login-health">
          Server:{' '}
          {health.error
            ? `unreachable (${health.error.message})`
            : health.data
              ? `${health.data.status}${health.data.version ? ` · v${health.data.version}` : ''}`
              : 'checking…'}
        </p>
      </form>
    </div>
  );
}
