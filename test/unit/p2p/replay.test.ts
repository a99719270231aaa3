/**
 * The replay guard (ledger-node/p2p/replay.ts, docs/protocol.md §12.3): a time window
 * around our clock, each envelope taken once, bounded per sender, and whatever it forgets
 * still refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplayGuard } from '../../../ledger-node/p2p/replay.js';

const T = 1_700_000_000_000;

describe('replay guard', () => {
  test('the window: ±windowMs around our clock is fresh, one millisecond beyond either side is stale', () => {
    const g = new ReplayGuard(30_000, 100);
    assert.equal(g.check('a', 'x', T - 30_000, T), 'fresh');
    assert.equal(g.check('a', 'x', T + 30_000, T), 'fresh');
    assert.equal(g.check('a', 'x', T - 30_001, T), 'stale');
    assert.equal(g.check('a', 'x', T + 30_001, T), 'stale');
  });

  test('an envelope taken once is a replay after, for its sender only', () => {
    const g = new ReplayGuard(30_000, 100);
    assert.equal(g.check('a', 'x', T, T), 'fresh');
    g.remember('a', 'x', T, T);
    assert.equal(g.check('a', 'x', T, T + 1000), 'replay');
    assert.equal(g.check('b', 'x', T, T + 1000), 'fresh');
    assert.equal(g.size('a'), 1);
  });

  test('a full share forgets its oldest and raises the floor: the forgotten one stays refused', () => {
    const g = new ReplayGuard(30_000, 3);
    for (let i = 0; i < 4; i++) g.remember('a', `e${i}`, T + i, T + 10);
    assert.equal(g.size('a'), 3);
    assert.equal(g.check('a', 'e0', T, T + 10), 'stale', 'forgotten, and at the floor');
    assert.equal(g.check('a', 'e3', T + 3, T + 10), 'replay');
    assert.equal(g.check('a', 'new', T + 4, T + 10), 'fresh');
    assert.equal(g.check('a', 'late', T, T + 10), 'stale', 'a late one at or below the floor goes too');
  });

  test('entries leave with the window; a clock stepping back does not let them in again', () => {
    const g = new ReplayGuard(1000, 100);
    g.remember('a', 'old', T, T);
    g.remember('a', 'new', T + 2000, T + 2000); // 'old' is now outside the window: forgotten
    assert.equal(g.size('a'), 1);
    assert.equal(g.check('a', 'old', T, T + 2000), 'stale');
    assert.equal(g.check('a', 'old', T, T + 500), 'stale', 'our clock went back: the floor still holds');
  });

  test('a peer flooding its own share does not push out another peer\'s entries', () => {
    const g = new ReplayGuard(30_000, 10);
    g.remember('alice', 'a1', T, T);
    for (let i = 0; i < 1000; i++) g.remember('bob', `b${i}`, T + i, T + i);
    assert.equal(g.size('bob'), 10);
    assert.equal(g.check('alice', 'a1', T, T + 1000), 'replay');
  });

  test('bad bounds are refused', () => {
    assert.throws(() => new ReplayGuard(0, 1), TypeError);
    assert.throws(() => new ReplayGuard(1000, 0), TypeError);
  });
});
