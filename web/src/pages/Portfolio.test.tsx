// @vitest-environment jsdom
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import type { Portfolio } from '../api/types';
import { PortfolioPage } from './Portfolio';

const portfolio: Portfolio = {
  account: 'DU0000001', base_currency: 'USD', total_equity: 1000000, as_of: '2026-11-23T14:30:00Z',
  positions: [
    { strategy_id: 'sma_aapl', symbol: 'AAPL', con_id: 265598, qty: 10, avg_cost: 189.1, market_price: 190.2, market_value: 1902, unrealized_pnl: 11, currency: 'USD' },
    { strategy_id: 'Discretionary', symbol: 'MSFT', con_id: 272093, qty: 7, avg_cost: 410, market_price: 412, market_value: 2884, unrealized_pnl: 14, currency: 'USD' },
  ],
  reconciliation: [
    { con_id: 265598, symbol: 'AAPL', ib_qty: 10, attributed_qty: 10, discretionary_qty: 0, break_qty: 0, locked: false },
    { con_id: 272093, symbol: 'MSFT', ib_qty: 7, attributed_qty: 0, discretionary_qty: 7, break_qty: 0, locked: false },
    { con_id: 76792991, symbol: 'TSLA', ib_qty: 3, attributed_qty: 0, discretionary_qty: 0, break_qty: 3, locked: true },
  ],
};

beforeEach(() => {
  vi.spyOn(api, 'portfolio').mockResolvedValue(portfolio);
  vi.spyOn(api, 'strategies').mockResolvedValue([]);
});
afterEach(() => vi.restoreAllMocks());

describe('Portfolio page', () => {
  it('shows Discretionary plainly with exactly its quantity', async () => {
    render(<PortfolioPage />);
    const group = await screen.findByTestId('group-Discretionary');
    const row = within(group).getAllByTestId('position-row')[0] as HTMLElement;
    expect(row.querySelector('[data-col="qty"]')?.textContent).toBe('+7');
    expect(within(group).getByText('Discretionary')).toBeTruthy();
  });

  it('lists locked contracts first with their break, and prefills a booking from it', async () => {
    const book = vi.spyOn(api, 'book').mockResolvedValue({
      booking_id: 'b1', con_id: 76792991, strategy_id: 'Discretionary', qty: 3, price: null, reason: 'manual TWS trade', at: '2026-11-23T14:31:00Z', symbol: 'TSLA',
    });
    render(<PortfolioPage />);
    const rows = await screen.findAllByTestId('recon-row');
    expect(rows.map((r) => r.getAttribute('data-symbol'))).toEqual(['TSLA', 'AAPL', 'MSFT']);
    const tsla = rows[0] as HTMLElement;
    expect(tsla.querySelector('[data-col="break"]')?.textContent).toBe('+3');
    expect(within(tsla).getByText('LOCKED')).toBeTruthy();
    fireEvent.click(within(tsla).getByTestId('book-break'));
    fireEvent.click(screen.getByTestId('booking-submit'));
    expect(screen.getByText('say why (journaled with the booking)')).toBeTruthy();
    expect(book).not.toHaveBeenCalled();
    fireEvent.change(screen.getByTestId('booking-reason'), { target: { value: 'manual TWS trade' } });
    fireEvent.click(screen.getByTestId('booking-submit'));
    await waitFor(() => expect(book).toHaveBeenCalledWith({ con_id: 76792991, strategy_id: 'Discretionary', qty: 3, price: null, reason: 'manual TWS trade' }));
  });

  it('reconciles on demand', async () => {
    const rec = vi.spyOn(api, 'reconcile').mockResolvedValue({ as_of: 'x', reconciliation: [] });
    render(<PortfolioPage />);
    fireEvent.click(await screen.findByTestId('reconcile'));
    await waitFor(() => expect(rec).toHaveBeenCalledOnce());
  });
});
