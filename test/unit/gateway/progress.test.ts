/** verify's progress bar: redrawn at least every second with the rate and the time left. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clock, progress } from '../../../gateway/cli/progress.js';

function fakeTty(isTTY: boolean) {
  const writes: string[] = [];
  let t = 0;
  const ticks: (() => void)[] = [];
  let cancelled = false;
  const bar = progress('verifying', { isTTY, write: (s: string) => writes.push(s) > 0 }, {
    unit: 'blocks', now: () => t,
    every: (_ms, fn) => {
      ticks.push(fn);
      return () => {
        cancelled = true;
      };
    },
  });
  return {
    bar, writes,
    advance(ms: number) {
      t += ms;
    },
    tick() {
      for (const f of ticks) f();
    },
    get cancelled() {
      return cancelled;
    },
  };
}

test('clock: m:ss and h:mm:ss', () => {
  assert.equal(clock(0), '0:00');
  assert.equal(clock(75), '1:15');
  assert.equal(clock(3725), '1:02:05');
});

test('a TTY bar shows rate and ETA, and its timer redraws it every second while no block finishes', () => {
  const f = fakeTty(true);
  f.advance(2000);
  f.bar.update(100, 1000);
  assert.equal(f.writes.length, 1);
  assert.match(f.writes[0]!, /^\rverifying \[###-+\]  10% 100\/1000  50 blocks\/s  ETA 0:18  \(0:02\)\x1b\[K$/);
  // One slow block: no update for three seconds, yet the bar moves (rate falls, ETA grows).
  for (let i = 0; i < 3; i++) {
    f.advance(1000);
    f.tick();
  }
  assert.equal(f.writes.length, 4, 'redrawn on each one-second tick');
  assert.match(f.writes[3]!, /100\/1000  20 blocks\/s  ETA 0:45  \(0:05\)/);
  // Updates come faster than 100 ms: drawn at most every 100 ms, and always at the end.
  f.bar.update(101, 1000);
  assert.equal(f.writes.length, 4);
  f.advance(100);
  f.bar.update(200, 1000);
  assert.equal(f.writes.length, 5);
  f.advance(1);
  f.bar.update(1000, 1000);
  assert.match(f.writes.at(-1)!, /100% 1000\/1000 .* done/);
  f.bar.end();
  assert.equal(f.writes.at(-1), '\n');
  assert.ok(f.cancelled, 'end() stops the timer');
});

test('off a TTY: a plain line at most every 5 s, by update or by the timer', () => {
  const f = fakeTty(false);
  f.bar.update(1, 10);
  assert.equal(f.writes.length, 1);
  assert.match(f.writes[0]!, /^verifying: 1\/10 .* blocks\/s  ETA -  \(0:00\)\n$/);
  f.advance(1000);
  f.bar.update(2, 10);
  assert.equal(f.writes.length, 1);
  f.advance(4000);
  f.tick();
  assert.equal(f.writes.length, 2);
  assert.match(f.writes[1]!, /^verifying: 2\/10  0\.4 blocks\/s  ETA 0:20  \(0:05\)\n$/);
  f.bar.end();
  assert.equal(f.writes.length, 2, 'no newline to finish off a TTY');
});
