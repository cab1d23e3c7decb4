/** Register a strategy from a class ref, and edit a strategy's params and weight, with validation. */
import { useMemo, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Params, Strategy, StrategyClass, StrategyPatch, StrategyRegistration } from '../api/types';
import { useApi } from '../lib/useApi';
import {
  formatSymbols,
  paramText,
  parseNum,
  parseParams,
  parseSymbols,
  validateCls,
  validateEquity,
  validateStrategyId,
  validateWeight,
  type Errors,
} from '../lib/validate';
import { ErrorBox, Field, Modal } from './ui';

/** Editable key → text rows for params, typed by the defaults. */
export function ParamsEditor({
  texts,
  onChange,
  errors,
  defaults,
}: {
  texts: Record<string, string>;
  onChange: (t: Record<string, string>) => void;
  errors: Errors;
  defaults: Params;
}) {
  const [newKey, setNewKey] = useState('');
  const keys = Object.keys(texts);
  return (
    <fieldset className="params" data-testid="params-editor">
      <legend>Params</legend>
      {keys.length === 0 && <div className="muted small">No params.</div>}
      {keys.map((k) => (
        <label key={k} className={`param-row ${errors[k] ? 'field-error' : ''}`}>
          <span className="param-key">{k}</span>
          <input
            value={texts[k] ?? ''}
            onChange={(e) => onChange({ ...texts, [k]: e.target.value })}
            data-testid={`param-${k}`}
            aria-invalid={!!errors[k]}
            placeholder={paramText(defaults[k])}
          />
          <span className="param-type muted small">{typeof defaults[k] === 'undefined' ? '' : typeof defaults[k]}</span>
          {errors[k] && <span className="field-msg">{errors[k]}</span>}
        </label>
      ))}
      <div className="param-add">
        <input
          value={newKey}
          placeholder="new param"
          onChange={(e) => setNewKey(e.target.value)}
          aria-label="New param name"
          data-testid="param-new-key"
        />
        <button
          type="button"
          className="btn-small"
          disabled={!newKey.trim() || newKey in texts}
          onClick={() => {
            onChange({ ...texts, [newKey.trim()]: '' });
            setNewKey('');
          }}
        >
          Add
        </button>
      </div>
    </fieldset>
  );
}

function toTexts(p: Params): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, paramText(v)]));
}

/** Field errors from a server 4xx that names the field. */
function serverFieldErrors(e: Error | null): Errors {
  if (e instanceof ApiError && e.field) return { [e.field.replace(/^params\./, '')]: e.message };
  return {};
}

export function EditStrategyDialog({
  strategy,
  defaults = {},
  onClose,
  onSaved,
}: {
  strategy: Strategy;
  defaults?: Params;
  onClose: () => void;
  onSaved: (s: Strategy) => void;
}) {
  const [texts, setTexts] = useState(toTexts(strategy.params));
  const [weight, setWeight] = useState(String(strategy.target_weight ?? 0));
  const [equity, setEquity] = useState(strategy.equity === null || strategy.equity === undefined ? '' : String(strategy.equity));
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const typed = useMemo(() => ({ ...defaults, ...strategy.params }), [defaults, strategy.params]);
  const parsed = parseParams(texts, typed);
  const errors: Errors = { ...parsed.errors, ...serverFieldErrors(error) };
  const wErr = validateWeight(weight);
  const eErr = validateEquity(equity);
  const invalid = Object.keys(parsed.errors).length > 0 || !!wErr || !!eErr;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (invalid) return;
    const patch: StrategyPatch = {
      params: parsed.value,
      target_weight: Number(weight),
      equity: parseNum(equity),
    };
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.patchStrategy(strategy.strategy_id, patch));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Edit ${strategy.strategy_id}`} onClose={onClose} testid="edit-strategy">
      <form onSubmit={submit} noValidate>
        <div className="modal-body">
          <div className="form-row">
            <Field label="Target weight (0–1)" error={wErr ?? errors['target_weight']} hint="share of account equity">
              <input value={weight} onChange={(e) => setWeight(e.target.value)} inputMode="decimal" data-testid="edit-weight" />
            </Field>
            <Field label="Explicit equity" error={eErr ?? errors['equity']} hint="empty: use the weight">
              <input value={equity} onChange={(e) => setEquity(e.target.value)} inputMode="decimal" data-testid="edit-equity" />
            </Field>
          </div>
          <ParamsEditor texts={texts} onChange={setTexts} errors={errors} defaults={typed} />
          <ErrorBox error={error} />
        </div>
        <footer className="modal-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy || invalid} data-testid="edit-save">
            {busy ? 'Saving…' : 'Save'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

const BAR_SIZES = ['1min', '5min', '15min', '1h', '1d'];

export function RegisterStrategyDialog({ onClose, onSaved }: { onClose: () => void; onSaved: (s: Strategy) => void }) {
  const classes = useApi<StrategyClass[] | null>(
    (s) => api.strategyClasses(s).catch((e: unknown) => (e instanceof ApiError && (e.status === 404 || e.status === 405) ? null : Promise.reject(e))),
    [],
  );
  const [cls, setCls] = useState('');
  const [id, setId] = useState('');
  const [symbols, setSymbols] = useState('');
  const [barSize, setBarSize] = useState('1min');
  const [weight, setWeight] = useState('0');
  const [equity, setEquity] = useState('');
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const defaults: Params = classes.data?.find((c) => c.cls === cls)?.params ?? {};
  const pickClass = (c: string) => {
    setCls(c);
    const d = classes.data?.find((x) => x.cls === c);
    if (d) setTexts(toTexts(d.params));
    if (!id && c.includes(':')) {
      const mod = c.split(':')[0]?.split('.').pop() ?? '';
      setId(mod);
    }
  };
  const sym = parseSymbols(symbols);
  const parsed = parseParams(texts, defaults);
  const server = serverFieldErrors(error);
  const errs: Errors = {
    ...(validateCls(cls) ? { cls: validateCls(cls) as string } : {}),
    ...(validateStrategyId(id) ? { strategy_id: validateStrategyId(id) as string } : {}),
    ...(sym.error ? { symbols: sym.error } : {}),
    ...(validateWeight(weight) ? { target_weight: validateWeight(weight) as string } : {}),
    ...(validateEquity(equity) ? { equity: validateEquity(equity) as string } : {}),
  };
  const invalid = Object.keys(errs).length > 0 || Object.keys(parsed.errors).length > 0;
  const show = (k: string) => (touched ? errs[k] : undefined) ?? server[k];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (invalid) return;
    const body: StrategyRegistration = {
      strategy_id: id,
      cls,
      symbols: sym.value,
      params: parsed.value,
      target_weight: Number(weight),
      equity: parseNum(equity),
      bar_size: barSize,
    };
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.registerStrategy(body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title="Register a strategy" onClose={onClose} testid="register-strategy">
      <form onSubmit={submit} noValidate>
        <div className="modal-body">
          <Field label="Class" error={show('cls')} hint="a class in the strategies package">
            {classes.data ? (
              <select value={cls} onChange={(e) => pickClass(e.target.value)} data-testid="reg-cls">
                <option value="">— choose —</option>
                {classes.data.map((c) => (
                  <option key={c.cls} value={c.cls}>
                    {c.cls}
                    {c.doc ? ` — ${c.doc}` : ''}
                  </option>
                ))}
              </select>
            ) : (
              <input
                value={cls}
                onChange={(e) => pickClass(e.target.value)}
                placeholder="strategies.sma_cross:SmaCross"
                data-testid="reg-cls"
              />
            )}
          </Field>
          <div className="form-row">
            <Field label="Strategy id" error={show('strategy_id')}>
              <input value={id} onChange={(e) => setId(e.target.value)} data-testid="reg-id" />
            </Field>
            <Field label="Bar size" error={show('bar_size')}>
              <select value={barSize} onChange={(e) => setBarSize(e.target.value)} data-testid="reg-bar-size">
                {BAR_SIZES.map((b) => (
                  <option key={b}>{b}</option>
                ))}
              </select>
            </Field>
          </div>
          <Field label="Instruments" error={show('symbols')} hint='AAPL, EUR.USD — or a JSON array of specs'>
            <input value={symbols} onChange={(e) => setSymbols(e.target.value)} placeholder="AAPL" data-testid="reg-symbols" />
          </Field>
          <div className="form-row">
            <Field label="Target weight (0–1)" error={show('target_weight')}>
              <input value={weight} onChange={(e) => setWeight(e.target.value)} inputMode="decimal" data-testid="reg-weight" />
            </Field>
            <Field label="Explicit equity" error={show('equity')} hint="empty: use the weight">
              <input value={equity} onChange={(e) => setEquity(e.target.value)} inputMode="decimal" data-testid="reg-equity" />
            </Field>
          </div>
          <ParamsEditor texts={texts} onChange={setTexts} errors={{ ...parsed.errors, ...server }} defaults={defaults} />
          <ErrorBox error={error} />
        </div>
        <footer className="modal-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn-primary" disabled={busy || (touched && invalid)} data-testid="reg-submit">
            {busy ? 'Registering…' : 'Register'}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export { formatSymbols };
