/**
 * What a new user sees of a running gateway: the banner on stdout and nothing but log lines
 * on stderr (JSON off a terminal, text when asked, with ISO times), an access log line per
 * HTTP request at debug, and a taken port named with the setting to change.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import { until } from '../../helpers/until.js';

interface Started { proc: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> }

function startGateway(args: string[]): Started {
  const proc = spawn(process.execPath, [CLI, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  const out = { stdout: '', stderr: '' };
  proc.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out, exited };
}

describe('logs and messages of `meterledger start`', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'meterledger-logs-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('banner and notices on stdout, only JSON log lines on stderr, and an access log line at debug', async () => {
    const http = await freePort();
    const g = startGateway(['--data-dir', join(tmp(), 'data'), '--mqtt-port', String(await freePort()), '--http-port', String(http), '--log-level', 'debug']);
    procs.push(g.proc);
    await until('the banner', () => /listening \(genesis [0-9a-f]{64}\)\n {2}mqtt +mqtt:\/\/127\.0\.0\.1:\d+\n {2}http +http:\/\/127\.0\.0\.1:\d+\n {2}portal +http:\/\/127\.0\.0\.1:\d+\/portal\/\n/.test(g.out.stdout), 30_000, 50);
    assert.match(g.out.stdout, /^initialised a dev chain "dev-[0-9a-f]+" in .*data with 10 meters/);
    const res = await fetch(`http://127.0.0.1:${http}/api/v1/status?x=1`);
    assert.equal(res.status, 200);
    // A refusal: its code on the access log line and on the refusals counter, as in the body.
    const refused = await fetch(`http://127.0.0.1:${http}/api/v1/no-such-route`);
    assert.equal(refused.status, 404);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'E_HTTP_NOT_FOUND');
    const scrape = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    assert.match(scrape, /^meterledger_http_refusals_total\{code="E_HTTP_NOT_FOUND"\} 1$/m);
    assert.match(scrape, /^meterledger_http_refusals_total\{code="E_HTTP_FORBIDDEN"\} 0$/m);
    await until('the access log lines', () => g.out.stderr.includes('no-such-route'), 10_000, 50);
    g.proc.kill('SIGTERM');
    assert.equal(await g.exited, 0);
    const lines = g.out.stderr.trimEnd().split('\n');
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        assert.fail(`a line on stderr that is not JSON: ${l}`);
      }
    });
    const access = parsed.find((l) => l.msg === 'http request')!;
    assert.equal(access.level, 20, 'debug');
    assert.equal(access.component, 'http');
    assert.deepEqual([access.method, access.url, access.status], ['GET', '/api/v1/status?x=1', 200]);
    assert.equal(typeof access.ms, 'number');
    assert.equal(access.code, undefined, 'a success has no code');
    const refusal = parsed.find((l) => l.msg === 'http request' && l.url === '/api/v1/no-such-route')!;
    assert.deepEqual([refusal.status, refusal.code], [404, 'E_HTTP_NOT_FOUND']);
    assert.ok(parsed.some((l) => l.msg === 'stopped'));
    assert.doesNotMatch(g.out.stderr, /listening \(genesis/, 'the banner is not on stderr');
  });

  test('--log-format text: one readable line per event, ISO time first; no access log at info', async () => {
    const http = await freePort();
    const g = startGateway(['--data-dir', join(tmp(), 'data'), '--mqtt-port', String(await freePort()), '--http-port', String(http), '--log-format', 'text']);
    procs.push(g.proc);
    await until('the banner', () => g.out.stdout.includes(' listening (genesis '), 30_000, 50);
    await fetch(`http://127.0.0.1:${http}/api/v1/status`);
    g.proc.kill('SIGTERM');
    assert.equal(await g.exited, 0);
    const lines = g.out.stderr.trimEnd().split('\n');
    assert.ok(lines.length >= 4, g.out.stderr);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) \S/, l);
    assert.ok(lines.some((l) => /^\S+ INFO  node: ledger node open chainId=dev-[0-9a-f]+ height=0 node=validator-0 role=validator$/.test(l)), g.out.stderr);
    assert.ok(!lines.some((l) => l.includes('http request')));
  });

  test('a port in use: the message names the port and the setting to change', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const mqtt = startGateway(['--data-dir', join(tmp(), 'data'), '--mqtt-port', String(port), '--http-port', String(await freePort())]);
      procs.push(mqtt.proc);
      assert.equal(await mqtt.exited, 1);
      assert.equal(mqtt.out.stderr.trimEnd().split('\n').at(-1),
        `error: E_ADDR_IN_USE: MQTT on 127.0.0.1:${port}: port ${port} is in use by another program; change mqtt.port (--mqtt-port)`);
      const http = startGateway(['--data-dir', join(tmp(), 'data'), '--mqtt-port', String(await freePort()), '--http-port', String(port)]);
      procs.push(http.proc);
      assert.equal(await http.exited, 1);
      assert.equal(http.out.stderr.trimEnd().split('\n').at(-1),
        `error: E_ADDR_IN_USE: HTTP API on 127.0.0.1:${port}: port ${port} is in use by another program; change http.port (--http-port)`);
    } finally {
      blocker.close();
    }
  });
});
