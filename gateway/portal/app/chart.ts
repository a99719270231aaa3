/**
 * The usage chart: uPlot (bundled, canvas, no outside request) drawing import and export
 * bars per bucket. The same numbers are in a table next to it, for screen readers and for
 * anyone who wants the figures.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket, Unit } from './usage.js';

const IMPORT_COLOUR = '#1d4ed8';
const EXPORT_COLOUR = '#047857';
/** A bucket's width in seconds (a month as 31 days): the x axis spans the buckets plus one each side. */
const STEP_S: Record<Unit, number> = { hour: 3600, day: 86_400, month: 31 * 86_400 };

export function drawChart(el: HTMLElement, buckets: readonly Bucket[], unit: Unit, previous?: uPlot): uPlot {
  previous?.destroy();
  const xs = buckets.map((b) => b.start / 1000);
  const data: uPlot.AlignedData = [xs, buckets.map((b) => b.importWh / 1000), buckets.map((b) => b.exportWh / 1000)];
  const width = Math.max(280, el.clientWidth || 600);
  const bars = uPlot.paths.bars!({ size: [0.6, 40], gap: 1 });
  const opts: uPlot.Options = {
    width, height: 260,
    title: `kWh per ${unit}`,
    scales: { x: { time: true, range: (_u, min, max) => [min - STEP_S[unit], max + STEP_S[unit]] }, y: { range: (_u, _min, max) => [0, Math.max(max, 0.001) * 1.1] } },
    axes: [{ stroke: '#1f2937', grid: { stroke: '#e5e7eb' } }, { stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, size: 60 }],
    series: [
      {},
      { label: 'import kWh', stroke: IMPORT_COLOUR, fill: 'rgba(29,78,216,0.55)', paths: bars, points: { show: false } },
      { label: 'export kWh', stroke: EXPORT_COLOUR, fill: 'rgba(4,120,87,0.55)', paths: bars, points: { show: false } },
    ],
    legend: { show: true },
  };
  return new uPlot(opts, data, el);
}
