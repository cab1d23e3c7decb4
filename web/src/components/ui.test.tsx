// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ConfirmDialog, SideTag, Snapshot, Time } from './ui';

describe('ui', () => {
  it('confirm dialog: Escape cancels, the button confirms, focus starts inside', () => {
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    render(<ConfirmDialog title="Engage?" message="Sure?" confirmLabel="Engage" danger onConfirm={onConfirm} onCancel={onCancel} />);
    expect(screen.getByRole('dialog').contains(document.activeElement)).toBe(true);
    fireEvent.keyDown(document, { key: 'Escape' });
    expect(onCancel).toHaveBeenCalledOnce();
    fireEvent.click(screen.getByTestId('confirm-ok'));
    expect(onConfirm).toHaveBeenCalledOnce();
  });

  it('shows local time with UTC on hover', () => {
    render(<Time at="2026-11-23T14:30:05Z" />);
    expect(screen.getByTitle('2026-11-23 14:30:05.000 UTC')).toBeTruthy();
  });

  it('colours sides', () => {
    const { container } = render(
      <>
        <SideTag side="BUY" />
        <SideTag side="SELL" />
      </>,
    );
    expect(container.querySelector('.buy')?.textContent).toBe('BUY');
    expect(container.querySelector('.sell')?.textContent).toBe('SELL');
  });

  it('snapshot shows loading, error with retry, empty and data states', () => {
    const reload = vi.fn();
    const base = { loading: false, reload };
    const { rerender } = render(<Snapshot state={{ ...base, data: undefined, error: null, loading: true }}>{() => 'data'}</Snapshot>);
    expect(screen.getByRole('status').textContent).toContain('Loading');
    rerender(<Snapshot state={{ ...base, data: undefined, error: new Error('boom') }}>{() => 'data'}</Snapshot>);
    expect(screen.getByRole('alert').textContent).toContain('boom');
    fireEvent.click(screen.getByText('Retry'));
    expect(reload).toHaveBeenCalled();
    rerender(<Snapshot state={{ ...base, data: [] as number[], error: null }} isEmpty={(d) => d.length === 0} empty="Nothing">{() => 'data'}</Snapshot>);
    expect(screen.getByText('Nothing')).toBeTruthy();
    rerender(<Snapshot state={{ ...base, data: [1], error: null }} isEmpty={(d) => d.length === 0}>{(d) => `rows ${d.length}`}</Snapshot>);
    expect(screen.getByText('rows 1')).toBeTruthy();
  });
});
