/**
 * `meterledger simulate` as a user runs it: two simulators on one data dir do not make each
 * other's readings replays (the second is refused while the first runs, with the reason),
 * a lock left by a simulator that died is taken over, and a broker that stops answering
 * yields the counts so far instead of a bare error.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Aedes } from 'aedes';
import { CLI, GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import { until } from '../../helpers/until.js';

function spawnCli(args: string[]): { proc: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { proc, out, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

const summary = (stdout: string): Record<string, unknown> => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

describe('simulate against a real gateway', { timeout: 240_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-sim-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '4']);
    assert.equal(init.code, 0, init.stderr);
    gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
    await gw.start();
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a second simulator on the same data dir is refused while the first runs; the first loses nothing to replays', async () => {
    // 800 readings at 100/s: eight seconds at least, time enough for the second to start.
    const first = spawnCli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '200', '--rate', '100', '--json']);
    await until('the first simulator publishing', () => first.out.stderr.includes('publishing'), 60_000, 50);
    const second = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '50', '--json'], { timeoutMs: 60_000 });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /^error: E_SIM_BUSY: another simulator \(pid \d+\) is driving the meters of .*; wait for it to finish/m);
    assert.equal(await first.exited, 0, first.out.stderr);
    const s = summary(first.out.stdout);
    assert.deepEqual([s.sent, s.acknowledged, s.receipted, s.rejected, s.stalled], [800, 800, 800, 0, null]);
    assert.equal(existsSync(join(dir, 'simulate.lock')), false, 'the lock is given back');
    // The next run goes ahead, its numbers above the first run's.
    const third = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '5', '--json'], { timeoutMs: 60_000 });
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual([summary(third.stdout).receipted, summary(third.stdout).rejected], [20, 0]);
  });

  test('a lock left by a simulator that died is taken over', async () => {
    const dead = spawn(process.execPath, ['-e', '0']);
    const pid = dead.pid!;
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, 'simulate.lock'), `${pid}\n`);
    const r = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '2', '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summary(r.stdout).receipted, 8);
    assert.equal(existsSync(join(dir, 'simulate.lock')), false);
  });
});

describe('simulate against a broker that stops answering', { timeout: 120_000 }, () => {
  let dir: string;
  let server: Server;
  let broker: Aedes;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-sim-stall-'));
    assert.equal((await cli(['init', '--data-dir', dir, '--meters', '2'])).code, 0);
    // Takes every CONNECT and SUBSCRIBE but never authorises a PUBLISH: no PUBACK ever comes.
    broker = await Aedes.createBroker({ authorizePublish: () => undefined });
    server = createServer(broker.handle);
    port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });
  after(async () => {
    server?.close();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the stall is named and the counts so far are printed; exit 1', async () => {
    const r = await cli(['simulate', '--data-dir', dir, '--mqtt', `mqtt://127.0.0.1:${port}`, '--readings', '500', '--timeout-s', '5', '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stderr + r.stdout);
    const s = summary(r.stdout);
    assert.equal(s.sent, 100, 'the in-flight window filled, then nothing came back');
    assert.equal(s.acknowledged, 0);
    assert.equal(s.stalled, 'no PUBACK for 5 s with 100 publishes in flight');
    assert.match(r.stderr, /^meters 2, sent 100, acknowledged 0, receipted 0, rejected 0$/m);
    assert.match(r.stderr, /^stopped early: no PUBACK for 5 s with 100 publishes in flight; the counts above are what happened until then$/m);
    assert.equal(existsSync(join(dir, 'simulate.lock')), false);
  });
});
