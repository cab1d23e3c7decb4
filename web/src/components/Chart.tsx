/**
 * lightweight-charts wrapper: line series (equity curves) and/or a candlestick series with fill markers.
 * TradingView's attribution stays on (`layout.attributionLogo`), as its licence asks.
 */
import { useEffect, useRef } from 'react';
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type SeriesMarker,
  type SeriesType,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { fmtNum, fmtTime } from '../lib/format';

/** Axis prices: separators for big numbers (equity), FX precision for small ones. */
export function axisPrice(p: number): string {
  const a = Math.abs(p);
  return fmtNum(p, a >= 10000 ? 0 : a >= 10 ? 2 : 5);
}

export interface LinePoint {
  time: number;
  value: number;
}
export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}
export interface ChartLine {
  name: string;
  color: string;
  points: LinePoint[];
}
export interface ChartMarker {
  time: number;
  side: 'BUY' | 'SELL';
  text?: string;
}

const PALETTE = ['#4aa3ff', '#f5b942', '#c77dff', '#2ec4b6', '#ff8fab', '#a3e635'];
export const lineColor = (i: number): string => PALETTE[i % PALETTE.length] ?? '#4aa3ff';

/** Strictly ascending, one point per time (last wins), as lightweight-charts requires. */
export function ascendingUnique<T extends { time: number }>(pts: T[]): T[] {
  const m = new Map<number, T>();
  for (const p of pts) if (Number.isFinite(p.time)) m.set(p.time, p);
  return [...m.values()].sort((a, b) => a.time - b.time);
}

export function Chart({
  lines = [],
  candles,
  markers = [],
  height = 260,
  testid,
}: {
  lines?: ChartLine[];
  candles?: Candle[];
  markers?: ChartMarker[];
  height?: number;
  testid?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);

  useEffect(() => {
    if (!el.current) return;
    const c = createChart(el.current, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: '#11161d' },
        textColor: '#9fb0c3',
        fontSize: 11,
        attributionLogo: true,
      },
      grid: { vertLines: { color: '#1b2330' }, horzLines: { color: '#1b2330' } },
      rightPriceScale: { borderColor: '#263040' },
      timeScale: { borderColor: '#263040', timeVisible: true, secondsVisible: false },
      localization: {
        priceFormatter: axisPrice,
        timeFormatter: (t: Time) => (typeof t === 'number' ? fmtTime(new Date(t * 1000).toISOString()) : String(t)) },
    });
    chart.current = c;
    return () => {
      chart.current = null;
      c.remove();
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const series: ISeriesApi<SeriesType>[] = [];
    let markerTarget: ISeriesApi<SeriesType> | null = null;
    if (candles && candles.length) {
      const s = c.addSeries(CandlestickSeries, {
        upColor: '#26a269',
        downColor: '#e5484d',
        borderVisible: false,
        wickUpColor: '#26a269',
        wickDownColor: '#e5484d',
      });
      s.setData(ascendingUnique(candles).map((b) => ({ ...b, time: b.time as UTCTimestamp })));
      series.push(s);
      markerTarget = s;
    }
    lines.forEach((l, i) => {
      const s = c.addSeries(LineSeries, { color: l.color || lineColor(i), lineWidth: 2, title: l.name, priceLineVisible: false });
      s.setData(ascendingUnique(l.points).map((p) => ({ time: p.time as UTCTimestamp, value: p.value })));
      series.push(s);
      if (!markerTarget) markerTarget = s;
    });
    if (markerTarget && markers.length) {
      const ms: SeriesMarker<Time>[] = [...markers]
        .sort((a, b) => a.time - b.time)
        .map((m) => ({
          time: m.time as UTCTimestamp,
          position: m.side === 'BUY' ? 'belowBar' : 'aboveBar',
          color: m.side === 'BUY' ? '#26a269' : '#e5484d',
          shape: m.side === 'BUY' ? 'arrowUp' : 'arrowDown',
          text: m.text ?? '',
        }));
      createSeriesMarkers(markerTarget, ms);
    }
    c.timeScale().fitContent();
    return () => {
      // On unmount the chart itself is removed first (its effect is declared first): skip then.
      if (chart.current !== c) return;
      for (const s of series) c.removeSeries(s);
    };
  }, [lines, candles, markers]);

  return <div className="chart" style={{ height }} ref={el} data-testid={testid} />;
}
