/**
 * Progress on stderr, hand-written: a bar redrawn in place on a TTY, else a plain line at
 * most every few seconds (so logs of CI and systemd stay readable).
 */
const WIDTH = 30;
const LINE_EVERY_MS = 5000;

export interface Progress {
  update(done: number, total: number): void;
  /** Finish the bar (newline on a TTY). */
  end(): void;
}

export function progress(label: string, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  const tty = stream.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const t = now();
      if (tty) {
        if (t - last < 100 && done < total) return;
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const fill = Math.round(frac * WIDTH);
        stream.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(WIDTH - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total}`);
        drawn = true;
      } else {
        if (t - last < LINE_EVERY_MS) return;
        stream.write(`${label}: ${done}/${total}\n`);
      }
      last = t;
    },
    end() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
