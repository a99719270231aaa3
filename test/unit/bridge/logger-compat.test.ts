/** The bridge's logger type accepts a pino logger as the gateway passes it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { BridgeLogger } from '../../../bridge/mqtt/index.js';

test('a pino logger is a BridgeLogger', { timeout: 5_000 }, () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  const log: BridgeLogger = pino({ level: 'debug' }, sink);
  log.warn({ reason: 'x' }, 'mqtt packet refused');
  log.info('plain');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /"reason":"x"/);
});
