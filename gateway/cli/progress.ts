/**
 * Progress on stderr, hand-written: on a TTY a bar redrawn in place (at most every 100 ms
 * on updates, and every second by a timer, so the rate and the ETA stay current while one
 * slow step runs); elsewhere a plain line every few seconds (logs of CI and systemd stay
 * readable). Both show the rate since the start and the time left at that rate.
 */
const WIDTH = 30;
const TTY_TICK_MS = 1000;
const LINE_EVERY_MS = 5000;

export interface Progress {
  update(done: number, total: number): void;
  /** Finish the bar (final figures, newline on a TTY) and stop its timer. */
  end(): void;
}

export interface ProgressOptions {
  /** What is counted, for the rate: "blocks" gives "120 blocks/s". */
  readonly unit?: string;
  readonly now?: () => number;
  /** Run `fn` every `ms` until cancelled (default setInterval, unref'd). */
  readonly every?: (ms: number, fn: () => void) => () => void;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const defaultEvery = (ms: number, fn: () => void): (() => void) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

export function progress(label: string, stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr, o: ProgressOptions = {}): Progress {
  const now = o.now ?? Date.now;
  const unit = o.unit ?? 'items';
  const tty = stream.isTTY === true;
  const started = now();
  let done = 0;
  let total = 0;
  let seen = false;
  let last = -Infinity;
  let drawn = false;

  const figures = (): string => {
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const left = total - done;
    const eta = left <= 0 ? 'done' : rate > 0 ? `ETA ${clock(left / rate)}` : 'ETA -';
    return `${done}/${total}  ${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} ${unit}/s  ${eta}  (${clock(elapsed)})`;
  };
  const draw = (): void => {
    if (!seen) return;
    last = now();
    if (tty) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const fill = Math.round(frac * WIDTH);
      // \x1b[K clears what a longer earlier line left behind.
      stream.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(WIDTH - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${figures()}\x1b[K`);
      drawn = true;
    } else {
      stream.write(`${label}: ${figures()}\n`);
    }
  };
  const cancel = (o.every ?? defaultEvery)(tty ? TTY_TICK_MS : LINE_EVERY_MS, () => {
    if (now() - last >= (tty ? TTY_TICK_MS : LINE_EVERY_MS) - 50) draw();
  });

  return {
    update(d, t) {
      done = d;
      total = t;
      seen = true;
      const gap = now() - last;
      if (tty ? gap >= 100 || d >= t : gap >= LINE_EVERY_MS) draw();
    },
    end() {
      cancel();
      if (tty && drawn) {
        draw();
        stream.write('\n');
      }
    },
  };
}
