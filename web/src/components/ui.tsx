/** Small presentational pieces shared by every page. */
import { useEffect, useId, useRef, type ReactNode } from 'react';
import { fmtMoney, fmtPrice, fmtQty, fmtTime, fmtUtc, signClass } from '../lib/format';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: Error | null | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="state state-error" role="alert" data-testid="error">
      <strong>Error</strong> {error.message}
      {onRetry && (
        <button type="button" className="btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** Loading / error / empty states around a snapshot. */
export function Snapshot<T>({
  state,
  empty,
  isEmpty,
  children,
}: {
  state: { data: T | undefined; error: Error | null; loading: boolean; reload: () => void };
  empty?: ReactNode;
  isEmpty?: (d: T) => boolean;
  children: (d: T) => ReactNode;
}) {
  if (state.data === undefined) {
    if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
    return <Loading />;
  }
  return (
    <>
      {state.error && <ErrorBox error={state.error} onRetry={state.reload} />}
      {isEmpty && isEmpty(state.data) ? <Empty>{empty ?? 'Nothing here yet.'}</Empty> : children(state.data)}
    </>
  );
}

export function Time({ at, timeOnly = false }: { at: string | null | undefined; timeOnly?: boolean }) {
  return (
    <time className="ts" dateTime={at ?? undefined} title={fmtUtc(at)}>
      {fmtTime(at, timeOnly)}
    </time>
  );
}

export function Money({ v, signed = false, colored = false }: { v: number | null | undefined; signed?: boolean; colored?: boolean }) {
  return <span className={colored ? signClass(v) : undefined}>{fmtMoney(v, signed)}</span>;
}

export function Qty({ v, signed = false }: { v: number | null | undefined; signed?: boolean }) {
  return <span className={signed ? signClass(v) : undefined}>{fmtQty(v, signed)}</span>;
}

export function Price({ v }: { v: number | null | undefined }) {
  return <>{fmtPrice(v)}</>;
}

export function SideTag({ side }: { side: string }) {
  return <span className={side === 'BUY' ? 'side buy' : side === 'SELL' ? 'side sell' : 'side'}>{side}</span>;
}

const STATUS_CLASS: Record<string, string> = {
  running: 'ok',
  connected: 'ok',
  ok: 'ok',
  done: 'ok',
  Filled: 'ok',
  starting: 'warn',
  warming_up: 'warn',
  stopping: 'warn',
  queued: 'warn',
  Submitted: 'info',
  PendingSubmit: 'warn',
  PartiallyFilled: 'info',
  stopped: 'muted',
  registered: 'muted',
  held: 'warn',
  connecting: 'warn',
  Cancelled: 'muted',
  error: 'bad',
  failed: 'bad',
  disconnected: 'bad',
  Rejected: 'bad',
  locked: 'bad',
  break: 'bad',
  degraded: 'bad',
};

export function Badge({ status, label }: { status: string; label?: string }) {
  return <span className={`badge badge-${STATUS_CLASS[status] ?? 'muted'}`}>{label ?? status}</span>;
}

export type Tone = 'ok' | 'bad' | 'warn' | 'unknown';

export function Dot({ tone, label }: { tone: Tone; label: string }) {
  return (
    <span className="dot-wrap">
      <span className={`dot dot-${tone}`} aria-hidden="true" />
      {label}
    </span>
  );
}

export function Panel({
  title,
  actions,
  children,
  className,
  testid,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  testid?: string;
}) {
  return (
    <section className={`panel ${className ?? ''}`} data-testid={testid}>
      {(title || actions) && (
        <header className="panel-head">
          <h2>{title}</h2>
          <div className="panel-actions">{actions}</div>
        </header>
      )}
      <div className="panel-body">{children}</div>
    </section>
  );
}

/** A modal dialog: focus moves in, Escape cancels, focus returns on close. */
export function Modal({
  title,
  onClose,
  children,
  testid,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  testid?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const id = useId();
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const focusable = el?.querySelector<HTMLElement>('input, select, textarea, button:not([data-close])');
    (focusable ?? el)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus?.();
    };
  }, [onClose]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby={id} ref={ref} tabIndex={-1} data-testid={testid}>
        <header className="modal-head">
          <h2 id={id}>{title}</h2>
          <button type="button" className="btn-icon" aria-label="Close" data-close onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  danger = false,
  busy = false,
  error,
  onConfirm,
  onCancel,
  children,
  confirmDisabled = false,
}: {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: Error | null;
  onConfirm: () => void;
  onCancel: () => void;
  children?: ReactNode;
  confirmDisabled?: boolean;
}) {
  return (
    <Modal title={title} onClose={onCancel} testid="confirm-dialog">
      <div className="modal-body">
        <div>{message}</div>
        {children}
        <ErrorBox error={error} />
      </div>
      <footer className="modal-foot">
        <button type="button" onClick={onCancel} data-testid="confirm-cancel">
          Cancel
        </button>
        <button
          type="button"
          className={danger ? 'btn-danger' : 'btn-primary'}
          onClick={onConfirm}
          disabled={busy || confirmDisabled}
          data-testid="confirm-ok"
        >
          {busy ? 'Working…' : confirmLabel}
        </button>
      </footer>
    </Modal>
  );
}

export function Field({
  label,
  error,
  children,
  hint,
}: {
  label: string;
  error?: string | null;
  hint?: string;
  children: ReactNode;
}) {
  return (
    <label className={`field ${error ? 'field-error' : ''}`}>
      <span className="field-label">{label}</span>
      {children}
      {error ? <span className="field-msg">{error}</span> : hint ? <span className="field-hint">{hint}</span> : null}
    </label>
  );
}
