import { describe, expect, it } from 'vitest';
import { coerceParam, diff, parseParams, parseSymbols, validateCls, validateEquity, validateStrategyId, validateWeight } from './validate';

describe('strategy validation (mirrors StrategySpec)', () => {
  it('checks ids, class refs, weights and equity', () => {
    expect(validateStrategyId('sma_aapl')).toBeNull();
    expect(validateStrategyId('sma aapl')).toMatch(/letters/);
    expect(validateStrategyId('Discretionary')).toMatch(/reserved/);
    expect(validateCls('strategies.sma_cross:SmaCross')).toBeNull();
    expect(validateCls('os:system')).toMatch(/strategies/);
    expect(validateCls('strategies.sma_cross')).toMatch(/strategies/);
    expect(validateWeight('0.1')).toBeNull();
    expect(validateWeight('1.5')).toMatch(/\[0, 1\]/);
    expect(validateWeight('abc')).toMatch(/number/);
    expect(validateEquity('')).toBeNull();
    expect(validateEquity('-1')).toMatch(/≥ 0/);
  });

  it('parses instruments from text or JSON specs', () => {
    expect(parseSymbols('aapl, EUR.USD')).toEqual({ value: ['AAPL', 'EUR.USD'], error: null });
    const es = parseSymbols('[{"symbol":"ES","sec_type":"FUT","exchange":"CME","currency":"USD","expiry":"202612"}]');
    expect(es.error).toBeNull();
    expect(es.value[0]).toMatchObject({ symbol: 'ES', expiry: '202612' });
    expect(parseSymbols('').error).toMatch(/at least one/);
    expect(parseSymbols('[{"sym":"x"}]').error).toMatch(/symbol/);
    expect(parseSymbols('[oops').error).toMatch(/invalid JSON/);
  });

  it('coerces params to the type of their defaults', () => {
    expect(coerceParam('20', 10)).toEqual({ value: 20, error: null });
    // Python's z = 2.0 arrives as 2: a fractional value must still be accepted.
    expect(coerceParam('2.5', 2)).toEqual({ value: 2.5, error: null });
    expect(coerceParam('x', 1).error).toMatch(/number/);
    expect(coerceParam('true', false)).toEqual({ value: true, error: null });
    expect(coerceParam('7', undefined)).toEqual({ value: 7, error: null });
    expect(coerceParam('abc', undefined)).toEqual({ value: 'abc', error: null });
    const p = parseParams({ fast: '5', slow: 'x', '1bad': '3' }, { fast: 10, slow: 50 });
    expect(p.value).toEqual({ fast: 5 });
    expect(Object.keys(p.errors).sort()).toEqual(['1bad', 'slow']);
  });

  it('diffs settings to send only what changed', () => {
    const a = { ib: { host: 'h', port: 1 }, risk: { q: 1 }, uri: 'x' };
    expect(diff(a, { ib: { host: 'h', port: 2 }, risk: { q: 1 }, uri: 'x' })).toEqual({ ib: { port: 2 } });
    expect(diff(a, structuredClone(a))).toBeUndefined();
  });
});
