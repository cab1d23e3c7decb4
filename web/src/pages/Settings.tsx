import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Health, Settings } from '../api/types';
import { ConfirmDialog, ErrorBox, Field, Panel, Snapshot } from '../components/ui';
import { useAction, useApi } from '../lib/useApi';
import { diff, validateIntRange, validateNonNeg, validatePort } from '../lib/validate';
import { liveStore, useLive } from '../stream/live';

interface Draft {
  arctic_uri: string;
  base_currency: string;
  ib_host: string;
  ib_port: string;
  ib_master: string;
  ib_max_clients: string;
  ib_account: string;
  max_order_qty: string;
  max_order_notional: string;
  daily_loss_limit: string;
}

function toDraft(s: Settings): Draft {
  return {
    arctic_uri: s.arctic_uri,
    base_currency: s.base_currency,
    ib_host: s.ib.host,
    ib_port: String(s.ib.port),
    ib_master: String(s.ib.master_client_id),
    ib_max_clients: String(s.ib.max_clients),
    ib_account: s.ib.account,
    max_order_qty: String(s.risk.max_order_qty),
    max_order_notional: String(s.risk.max_order_notional),
    daily_loss_limit: String(s.risk.daily_loss_limit),
  };
}

export function validateSettings(d: Draft): Record<string, string> {
  const e: Record<string, string | null> = {
    'ib.host': d.ib_host.trim() ? null : 'required',
    'ib.port': validatePort(d.ib_port),
    'ib.master_client_id': validateIntRange(d.ib_master, 0, 999_999_999),
    'ib.max_clients': validateIntRange(d.ib_max_clients, 2, 99),
    arctic_uri: /^(lmdb|s3|s3s|mem|azure):\/\/.+/.test(d.arctic_uri.trim()) ? null : 'lmdb://…, s3://… or mem://…',
    base_currency: /^[A-Z]{3}$/.test(d.base_currency) ? null : 'a 3-letter ISO code, e.g. USD',
    'risk.max_order_qty': validateNonNeg(d.max_order_qty),
    'risk.max_order_notional': validateNonNeg(d.max_order_notional),
    'risk.daily_loss_limit': validateNonNeg(d.daily_loss_limit),
  };
  if (!e['ib.master_client_id'] && !e['ib.max_clients'] && Number(d.ib_master) === 0) e['ib.master_client_id'] = '0 is the engine; use 99';
  return Object.fromEntries(Object.entries(e).filter((x): x is [string, string] => !!x[1]));
}

/** Apply a draft onto the current settings. */
export function applyDraft(s: Settings, d: Draft): Settings {
  return {
    ...s,
    arctic_uri: d.arctic_uri.trim(),
    base_currency: d.base_currency,
    ib: {
      ...s.ib,
      host: d.ib_host.trim(),
      port: Number(d.ib_port),
      master_client_id: Number(d.ib_master),
      max_clients: Number(d.ib_max_clients),
      account: d.ib_account.trim(),
    },
    risk: {
      max_order_qty: Number(d.max_order_qty),
      max_order_notional: Number(d.max_order_notional),
      daily_loss_limit: Number(d.daily_loss_limit),
    },
  };
}

function SettingsForm({ settings, onSaved }: { settings: Settings; onSaved: (s: Settings) => void }) {
  const [draft, setDraft] = useState<Draft>(toDraft(settings));
  const [saved, setSaved] = useState<string | null>(null);
  const save = useAction(api.putSettings);
  useEffect(() => setDraft(toDraft(settings)), [settings]);
  const errs = validateSettings(draft);
  const server = save.error instanceof ApiError && save.error.field ? { [save.error.field]: save.error.message } : {};
  const err = (k: string) => errs[k] ?? (server as Record<string, string>)[k];
  const { restart_required: _r, ...base } = settings;
  void _r;
  const changes = diff(base, (({ restart_required: _x, ...rest }) => rest)(applyDraft(settings, draft)));
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(null);
    if (Object.keys(errs).length || !changes) return;
    const r = await save.run(changes);
    if (r) {
      setSaved(r.restart_required.length ? `Saved. Takes effect after a restart: ${r.restart_required.join(', ')}.` : 'Saved.');
      onSaved(r.settings);
    }
  };

  return (
    <form onSubmit={submit} noValidate data-testid="settings-form">
      <div className="settings-grid">
        <fieldset>
          <legend>Interactive Brokers</legend>
          <Field label="Host" error={err('ib.host')}>
            <input value={draft.ib_host} onChange={set('ib_host')} data-testid="set-ib-host" />
          </Field>
          <Field label="Port" error={err('ib.port')} hint="7497 paper TWS, 4002 paper Gateway">
            <input value={draft.ib_port} onChange={set('ib_port')} inputMode="numeric" data-testid="set-ib-port" />
          </Field>
          <Field label="Master client id" error={err('ib.master_client_id')} hint="the recorder; must match the Gateway setting">
            <input value={draft.ib_master} onChange={set('ib_master')} inputMode="numeric" data-testid="set-ib-master" />
          </Field>
          <Field label="Max clients" error={err('ib.max_clients')} hint="the Gateway accepts 32">
            <input value={draft.ib_max_clients} onChange={set('ib_max_clients')} inputMode="numeric" data-testid="set-ib-max-clients" />
          </Field>
          <Field label="Account" error={err('ib.account')} hint="empty: the first managed account">
            <input value={draft.ib_account} onChange={set('ib_account')} data-testid="set-ib-account" />
          </Field>
          <div className="field">
            <span className="field-label">Live trading</span>
            <span className={settings.ib.live ? 'neg' : 'muted'}>{settings.ib.live ? 'LIVE account allowed' : 'paper only'}</span>
          </div>
        </fieldset>
        <fieldset>
          <legend>Storage</legend>
          <Field label="ArcticDB URI" error={err('arctic_uri')} hint="secrets are redacted">
            <input value={draft.arctic_uri} onChange={set('arctic_uri')} data-testid="set-arctic-uri" />
          </Field>
          <Field label="Base currency" error={err('base_currency')}>
            <input value={draft.base_currency} onChange={set('base_currency')} data-testid="set-base-ccy" />
          </Field>
          <div className="field">
            <span className="field-label">Data dir</span>
            <span className="mono">{settings.data_dir}</span>
          </div>
          <div className="field">
            <span className="field-label">Web</span>
            <span className="mono">
              {settings.web.host}:{settings.web.port}
            </span>
          </div>
        </fieldset>
        <fieldset>
          <legend>Risk limits</legend>
          <Field label="Max order qty" error={err('risk.max_order_qty')}>
            <input value={draft.max_order_qty} onChange={set('max_order_qty')} inputMode="decimal" data-testid="set-max-qty" />
          </Field>
          <Field label="Max order notional" error={err('risk.max_order_notional')}>
            <input value={draft.max_order_notional} onChange={set('max_order_notional')} inputMode="decimal" data-testid="set-max-notional" />
          </Field>
          <Field label="Daily loss limit per strategy" error={err('risk.daily_loss_limit')} hint="base currency; 0 = off">
            <input value={draft.daily_loss_limit} onChange={set('daily_loss_limit')} inputMode="decimal" data-testid="set-daily-loss" />
          </Field>
        </fieldset>
      </div>
      {!Object.keys(server).length && <ErrorBox error={save.error} />}
      <div className="form-actions">
        <button type="submit" className="btn-primary" disabled={save.busy || !changes || Object.keys(errs).length > 0} data-testid="settings-save">
          {save.busy ? 'Saving…' : 'Save settings'}
        </button>
        <button type="button" disabled={!changes} onClick={() => setDraft(toDraft(settings))}>
          Revert
        </button>
        {saved && (
          <span className="state-ok" role="status" data-testid="settings-saved">
            {saved}
          </span>
        )}
      </div>
    </form>
  );
}

function KillSwitch() {
  const health = useApi<Health>((s) => api.health(s), []);
  const liveKill = useLive((s) => s.killSwitch);
  const engaged = liveKill ?? health.data?.kill_switch ?? false;
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const ks = useAction(api.killSwitch);
  const confirm = async () => {
    const r = await ks.run({ engaged: !engaged, reason: reason.trim() || (engaged ? 'released from the UI' : 'engaged from the UI') });
    if (r) {
      liveStore.set({ killSwitch: r.engaged });
      setOpen(false);
      setReason('');
      health.reload();
    }
  };
  return (
    <Panel title="Kill switch" className={engaged ? 'panel-kill' : undefined} testid="panel-kill">
      <p>
        {engaged ? (
          <strong className="neg" data-testid="kill-state">
            ENGAGED — new orders are refused.
          </strong>
        ) : (
          <span data-testid="kill-state">Off. Engaging it cancels every open order (reqGlobalCancel, including TWS orders) and stops all strategies.</span>
        )}
      </p>
      <button type="button" className={engaged ? 'btn-primary' : 'btn-danger btn-big'} onClick={() => setOpen(true)} data-testid="kill-switch">
        {engaged ? 'Release kill switch…' : 'Engage kill switch…'}
      </button>
      {open && (
        <ConfirmDialog
          title={engaged ? 'Release the kill switch?' : 'Engage the kill switch?'}
          message={
            engaged
              ? 'Strategies stay stopped; start them again from the Strategies page.'
              : 'Every open order on the account is cancelled and every strategy is stopped. This cannot be undone by releasing it.'
          }
          confirmLabel={engaged ? 'Release' : 'Engage kill switch'}
          danger={!engaged}
          busy={ks.busy}
          error={ks.error}
          onCancel={() => setOpen(false)}
          onConfirm={() => void confirm()}
        >
          <label className="field">
            <span className="field-label">Reason</span>
            <input value={reason} onChange={(e) => setReason(e.target.value)} data-testid="kill-reason" />
          </label>
        </ConfirmDialog>
      )}
    </Panel>
  );
}

export function SettingsPage() {
  const settings = useApi((s) => api.settings(s), []);
  const [current, setCurrent] = useState<Settings | null>(null);
  return (
    <div className="page" data-testid="page-settings">
      <KillSwitch />
      <Panel title="Settings">
        <Snapshot state={settings}>{(s) => <SettingsForm settings={current ?? s} onSaved={setCurrent} />}</Snapshot>
      </Panel>
    </div>
  );
}
