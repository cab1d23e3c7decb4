import { describe, expect, it } from 'vitest';
import { fmtMoney, fmtPct, fmtPrice, fmtQty, fmtTime, fmtUtc, instrumentLabel, signClass } from './format';

describe('format', () => {
  it('formats money with two decimals and thousands separators', () => {
    expect(fmtMoney(1000000)).toBe('1,000,000.00');
    expect(fmtMoney(-15.755)).toBe('-15.76');
    expect(fmtMoney(86.2, true)).toBe('+86.20');
    expect(fmtMoney(0, true)).toBe('0.00');
    expect(fmtMoney(null)).toBe('—');
    expect(fmtMoney(Number.NaN)).toBe('—');
  });

  it('formats quantities as integers unless fractional', () => {
    expect(fmtQty(20000)).toBe('20,000');
    expect(fmtQty(-20000, true)).toBe('-20,000');
    expect(fmtQty(10, true)).toBe('+10');
    expect(fmtQty(0.5)).toBe('0.5');
    expect(fmtQty(1.23456)).toBe('1.2346');
  });

  it('keeps FX precision on prices and at least two decimals', () => {
    expect(fmtPrice(190.2)).toBe('190.20');
    expect(fmtPrice(1.08437)).toBe('1.08437');
    expect(fmtPrice(4500.25)).toBe('4,500.25');
    expect(fmtPrice(undefined)).toBe('—');
  });

  it('formats fractions as percentages', () => {
    expect(fmtPct(0.1)).toBe('10.00%');
    expect(fmtPct(-0.0123, true)).toBe('-1.23%');
    expect(fmtPct(0.05, false, 1)).toBe('5.0%');
  });

  it('shows local time and UTC for hover', () => {
    const iso = '2026-11-23T14:30:05.123Z';
    const d = new Date(iso);
    const pad = (n: number) => String(n).padStart(2, '0');
    expect(fmtTime(iso)).toBe(
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:05`,
    );
    expect(fmtTime(iso, true)).toBe(`${pad(d.getHours())}:${pad(d.getMinutes())}:05`);
    expect(fmtUtc(iso)).toBe('2026-11-23 14:30:05.123 UTC');
    expect(fmtTime('not a time')).toBe('—');
    expect(fmtUtc(null)).toBe('');
  });

  it('colours signs and labels instruments', () => {
    expect(signClass(1)).toBe('pos');
    expect(signClass(-1)).toBe('neg');
    expect(signClass(0)).toBe('');
    expect(instrumentLabel('AAPL')).toBe('AAPL');
    expect(instrumentLabel({ symbol: 'ES', sec_type: 'FUT', expiry: '202612' })).toBe('ES 202612');
  });
});
