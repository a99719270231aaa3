/**
 * The usage chart: uPlot (bundled, canvas, no outside request) drawing import and export
 * bars per bucket. The same numbers are in a table next to it, for screen readers and for
 * anyone who wants the figures.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket, Unit } from './usage.js';
import { barX, xRange } from './chart-axis.js';

const IMPORT_COLOUR = '#1d4ed8';
const EXPORT_COLOUR = '#047857';

export function drawChart(el: HTMLElement, buckets: readonly Bucket[], unit: Unit, previous?: uPlot): uPlot {
  previous?.destroy();
  const xs = buckets.map(barX);
  const data: uPlot.AlignedData = [xs, buckets.map((b) => b.importWh / 1000), buckets.map((b) => b.exportWh / 1000)];
  const width = Math.max(280, el.clientWidth || 600);
  const bars = uPlot.paths.bars!({ size: [0.6, 40], gap: 1 });
  const opts: uPlot.Options = {
    width, height: 260,
    title: `kWh per ${unit}`,
    scales: { x: { time: true, range: (_u, min, max) => xRange(buckets, min, max) }, y: { range: (_u, _min, max) => [0, Math.max(max, 0.001) * 1.1] } },
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
