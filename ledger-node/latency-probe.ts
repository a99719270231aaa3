/**
 * Where a reading's time goes between the intake and its PUBACK, and what holds up the
 * event loop meanwhile: the latency benchmark's probe (docs/performance.md). Off unless
 * `MLBENCH_LATENCY_PROBE` names a file; then durations are collected in memory and, when
 * the process exits, written there as JSON percentiles (since the last SIGUSR2, if any). Not METERLEDGER_*: the
 * configuration refuses variables it does not know, and this is no setting.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const FILE = process.env.MLBENCH_LATENCY_PROBE;
/**
 * `MLBENCH_ACCEPT_PATH=before` restores the PUBACK path as it was before issue 15's latency
 * work (a block's store batch made and handed to LevelDB at once, no turn of the event loop
 * between the stored block and its receipts): the benchmark's before/after switch, no setting.
 */
export const ACCEPT_PATH_BEFORE = process.env.MLBENCH_ACCEPT_PATH === 'before';
/** Samples kept per name (a run of a benchmark is bounded; this bounds the probe as well). */
const MAX_SAMPLES = 200_000;
/** The loop-lag sampler's period, ms. */
const TICK_MS = 10;

type Summary = { n: number; mean: number; p50: number; p95: number; p99: number; max: number };

function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0) * 10) / 10;
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
  return { n: s.length, mean: Math.round(mean * 10) / 10, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

class Probe {
  private readonly samples = new Map<string, number[]>();
  /** Names of the phases under way now (a lag sample is charged to them). */
  private readonly open = new Map<string, number>();
  /** performance.now() when each phase last ended: a stall is also charged to a phase that ended during it. */
  private readonly ended = new Map<string, number>();
  private readonly loop = monitorEventLoopDelay({ resolution: TICK_MS });

  constructor(file: string) {
    this.loop.enable();
    // Our own sampler, so that a stall can be charged to the phase it happened in.
    let expected = performance.now() + TICK_MS;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      const lag = now - expected;
      expected = now + TICK_MS;
      const since = last;
      last = now;
      if (lag < 5) return;
      this.add('loopLag.all', lag);
      const phases = [...new Set([...this.open.keys(), ...[...this.ended].filter(([, at]) => at > since).map(([k]) => k)])].sort();
      this.add(phases.length ? `loopLag.in.${phases.join('+')}` : 'loopLag.in.none', lag);
    }, TICK_MS);
    tick.unref();
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.add('gc', e.duration);
    });
    gc.observe({ entryTypes: ['gc'] });
    // SIGUSR2 starts the figures afresh: the benchmark sends it at the end of its warm-up, so
    // that start-up and the first seconds' backlog are not in them (the signal is taken only
    // while the probe is on).
    process.on('SIGUSR2', () => {
      this.samples.clear();
      this.loop.reset();
    });
    process.once('exit', () => {
      const out: Record<string, Summary | Record<string, number>> = {};
      for (const [k, v] of [...this.samples].sort(([a], [b]) => a.localeCompare(b))) out[k] = summarize(v);
      out['eventLoopDelay (perf_hooks, ms)'] = {
        p50: this.loop.percentile(50) / 1e6, p99: this.loop.percentile(99) / 1e6, max: this.loop.max / 1e6, mean: this.loop.mean / 1e6,
      };
      try {
        writeFileSync(file, JSON.stringify(out, null, 1));
      } catch {
        // a probe never fails the process
      }
    });
  }

  add(name: string, ms: number): void {
    let xs = this.samples.get(name);
    if (!xs) this.samples.set(name, (xs = []));
    if (xs.length < MAX_SAMPLES) xs.push(ms);
  }

  /** A phase starts: returns its end, which records its duration. */
  phase(name: string): () => void {
    const t0 = performance.now();
    this.open.set(name, (this.open.get(name) ?? 0) + 1);
    return () => {
      const n = (this.open.get(name) ?? 1) - 1;
      if (n > 0) this.open.set(name, n);
      else this.open.delete(name);
      const now = performance.now();
      this.ended.set(name, now);
      this.add(`phase.${name}`, now - t0);
    };
  }
}

/** The probe, when `MLBENCH_LATENCY_PROBE` is set; otherwise undefined and every call site costs one check. */
export const probe: Probe | undefined = FILE ? new Probe(FILE) : undefined;
