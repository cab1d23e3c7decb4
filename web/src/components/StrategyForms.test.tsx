// @vitest-environment jsdom
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../api/client';
import type { Strategy } from '../api/types';
import { EditStrategyDialog, RegisterStrategyDialog } from './StrategyForms';

const strategy: Strategy = {
  strategy_id: 'mr_eurusd', cls: 'strategies.mean_revert:MeanRevert', symbols: ['EUR.USD'], params: { window: 20, z: 2, qty: 20000 },
  target_weight: 0.05, equity: null, bar_size: '1min', status: 'running', client_id: 2,
};

afterEach(() => vi.restoreAllMocks());

describe('EditStrategyDialog', () => {
  it('blocks an out-of-range weight and a non-numeric param', () => {
    render(<EditStrategyDialog strategy={strategy} onClose={() => {}} onSaved={() => {}} />);
    fireEvent.change(screen.getByTestId('edit-weight'), { target: { value: '1.5' } });
    fireEvent.change(screen.getByTestId('param-window'), { target: { value: 'abc' } });
    expect(screen.getByText('must be within [0, 1]')).toBeTruthy();
    expect(screen.getByText('must be a number')).toBeTruthy();
    expect((screen.getByTestId('edit-save') as HTMLButtonElement).disabled).toBe(true);
  });

  it('sends typed params, weight and equity', async () => {
    const patch = vi.spyOn(api, 'patchStrategy').mockResolvedValue({ ...strategy });
    const onSaved = vi.fn();
    render(<EditStrategyDialog strategy={strategy} onClose={() => {}} onSaved={onSaved} />);
    fireEvent.change(screen.getByTestId('param-z'), { target: { value: '2.5' } });
    fireEvent.change(screen.getByTestId('edit-equity'), { target: { value: '50000' } });
    fireEvent.click(screen.getByTestId('edit-save'));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(patch).toHaveBeenCalledWith('mr_eurusd', { params: { window: 20, z: 2.5, qty: 20000 }, target_weight: 0.05, equity: 50000 });
  });
});

describe('RegisterStrategyDialog', () => {
  it('offers the classes, fills their defaults and posts the pinned registration body', async () => {
    vi.spyOn(api, 'strategyClasses').mockResolvedValue([{ cls: 'strategies.sma_cross:SmaCross', doc: 'SMA', params: { fast: 10, slow: 50, qty: 10 } }]);
    const reg = vi.spyOn(api, 'registerStrategy').mockResolvedValue({ ...strategy, strategy_id: 'sma_msft' });
    const onSaved = vi.fn();
    render(<RegisterStrategyDialog onClose={() => {}} onSaved={onSaved} />);
    await screen.findByRole('option', { name: /SmaCross/ });
    fireEvent.change(screen.getByTestId('reg-cls'), { target: { value: 'strategies.sma_cross:SmaCross' } });
    expect((screen.getByTestId('param-fast') as HTMLInputElement).value).toBe('10');
    fireEvent.change(screen.getByTestId('reg-id'), { target: { value: 'sma_msft' } });
    fireEvent.change(screen.getByTestId('reg-symbols'), { target: { value: 'msft' } });
    fireEvent.change(screen.getByTestId('reg-weight'), { target: { value: '0.1' } });
    fireEvent.change(screen.getByTestId('param-fast'), { target: { value: '5' } });
    fireEvent.click(screen.getByTestId('reg-submit'));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(reg).toHaveBeenCalledWith({
      strategy_id: 'sma_msft', cls: 'strategies.sma_cross:SmaCross', symbols: ['MSFT'], params: { fast: 5, slow: 50, qty: 10 },
      target_weight: 0.1, equity: null, bar_size: '1min',
    });
  });

  it('falls back to a free-text class when the classes route is missing, and shows the field the server names', async () => {
    vi.spyOn(api, 'strategyClasses').mockRejectedValue(new ApiError(404, 'Not Found', null, null));
    vi.spyOn(api, 'registerStrategy').mockRejectedValue(new ApiError(400, 'strategy_id sma_aapl exists', 'strategy_id', null));
    render(<RegisterStrategyDialog onClose={() => {}} onSaved={() => {}} />);
    await waitFor(() => expect(screen.getByTestId('reg-cls').tagName).toBe('INPUT'));
    fireEvent.change(screen.getByTestId('reg-cls'), { target: { value: 'strategies.sma_cross:SmaCross' } });
    fireEvent.change(screen.getByTestId('reg-id'), { target: { value: 'sma_aapl' } });
    fireEvent.change(screen.getByTestId('reg-symbols'), { target: { value: 'AAPL' } });
    fireEvent.click(screen.getByTestId('reg-submit'));
    expect(await screen.findAllByText('strategy_id sma_aapl exists')).not.toHaveLength(0);
  });
});
