// @vitest-environment jsdom
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import type { FillRow, OrderRow } from '../api/types';
import { liveStore } from '../stream/live';
import { Blotter } from './Blotter';

const fill: FillRow = {
  exec_id: 'e1.01', exec_time: '2026-11-23T14:30:00Z', order_ref: 'mats:sma_aapl:A', strategy_id: 'sma_aapl', con_id: 265598, symbol: 'AAPL',
  side: 'BUY', qty: 10, price: 189.1, commission: 1, currency: 'USD',
};
const open: OrderRow = {
  order_ref: 'mats:sma_aapl:B', strategy_id: 'sma_aapl', symbol: 'AAPL', state: 'Submitted', qty: -10, filled: 0, remaining: 10, avg_fill_price: 0,
  at: '2026-11-23T14:31:00Z', order_type: 'LMT', limit_price: 195.5, tif: 'GTC',
};

beforeEach(() => {
  liveStore.reset();
  vi.spyOn(api, 'fills').mockResolvedValue([fill]);
  vi.spyOn(api, 'orders').mockResolvedValue([open]);
});
afterEach(() => vi.restoreAllMocks());

describe('Blotter', () => {
  it('adds a live fill with its late commission to the blotter', async () => {
    render(<Blotter />);
    await screen.findAllByTestId('fill-row');
    act(() => {
      liveStore.dispatch({ seq: 1, type: 'fill', at: 'x', data: { ...fill, exec_id: 'e2.01', exec_time: '2026-11-23T14:32:00Z', side: 'SELL', price: 190.62, commission: null, kind: 'fill' } });
    });
    let rows = screen.getAllByTestId('fill-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]?.querySelector('[data-col="price"]')?.textContent).toBe('190.62');
    expect(rows[0]?.querySelector('[data-col="commission"]')?.textContent).toBe('pending');
    act(() => {
      liveStore.dispatch({ seq: 2, type: 'fill', at: 'x', data: { kind: 'commission', exec_id: 'e2.01', commission: 1.05 } });
    });
    rows = screen.getAllByTestId('fill-row');
    expect(rows[0]?.querySelector('[data-col="commission"]')?.textContent).toBe('1.05');
    fireEvent.change(screen.getByTestId('filter-side'), { target: { value: 'BUY' } });
    expect(screen.getAllByTestId('fill-row')).toHaveLength(1);
  });

  it('cancels an open order by its order_ref and shows the live state', async () => {
    const cancel = vi.spyOn(api, 'cancelOrder').mockResolvedValue({ ...open, state: 'Cancelled' });
    render(<Blotter />);
    const row = (await screen.findAllByTestId('order-row'))[0] as HTMLElement;
    fireEvent.click(within(row).getByTestId('cancel-order'));
    await waitFor(() => expect(cancel).toHaveBeenCalledWith('mats:sma_aapl:B'));
    act(() => {
      liveStore.dispatch({ seq: 3, type: 'order', at: 'x', data: { ...open, state: 'Cancelled' } });
    });
    expect(screen.queryByTestId('cancel-order')).toBeNull();
    expect(screen.getByText('Cancelled')).toBeTruthy();
  });
});
