/** The text log format: one readable line per event, ISO time first; JSON stays pino's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, formatLogLine } from '../../../gateway/logger.js';

test('formatLogLine: ISO time, level, component, message, then the fields as key=value', () => {
  const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), name: 'meterledger', component: 'node', chainId: 'dev-1', height: 0, role: 'a validator', msg: 'ledger node open' });
  assert.equal(formatLogLine(line), '2026-01-02T03:04:05.006Z INFO  node: ledger node open chainId=dev-1 height=0 role="a validator"\n');
  const err = JSON.stringify({ level: 50, time: 0, msg: 'closing MQTT failed', err: { type: 'Error', message: 'mqemitter is closed', stack: 'Error: x\n    at a (f.js:1:1)' } });
  assert.equal(formatLogLine(err), '1970-01-01T00:00:00.000Z ERROR closing MQTT failed err="mqemitter is closed"\n');
  assert.equal(formatLogLine(err, true), '1970-01-01T00:00:00.000Z ERROR closing MQTT failed err="mqemitter is closed"\n    at a (f.js:1:1)\n');
  assert.match(formatLogLine(JSON.stringify({ level: 40, time: 0, msg: 'm', err: { message: 'gone', code: 'E_X' } })), / WARN  m err="E_X: gone"\n$/);
  assert.equal(formatLogLine('not json'), 'not json\n');
});

test('createLogger: text and json formats write whole lines to the descriptor', (t) => {
  const d = mkdtempSync(join(tmpdir(), 'ml-log-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (const format of ['text', 'json'] as const) {
    const f = join(d, `${format}.log`);
    const fd = openSync(f, 'w');
    const log = createLogger('info', format, fd);
    log.child({ component: 'http' }).info({ port: 8080 }, 'listening');
    log.debug('hidden at info');
    log.flush();
    closeSync(fd);
    const text = readFileSync(f, 'utf8');
    assert.equal(text.split('\n').length, 2, text);
    if (format === 'text') assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  http: listening port=8080\n$/);
    else assert.deepEqual((({ level, component, port, msg }) => ({ level, component, port, msg }))(JSON.parse(text)), { level: 30, component: 'http', port: 8080, msg: 'listening' });
  }
});
