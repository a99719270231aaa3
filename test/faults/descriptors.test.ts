/**
 * Descriptor exhaustion: idle sockets by the thousand against every MQTT listener (TCP,
 * TLS, WebSocket) of a gateway held to 1024 open files. Each listener keeps at most
 * mqtt.maxConnectionsPerListener sockets and closes an idle one after 10 s (no CONNECT,
 * no TLS handshake, no WebSocket upgrade), so the gateway keeps descriptors for its store
 * and its HTTP API: a connected meter keeps getting receipts, HTTP keeps answering, and
 * a new meter gets in once the flood has been shed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { makeCert } from '../helpers/tls-certs.js';
import { type FaultChain, faultChain, until } from './support.js';

const OPEN_FILES = 1024;
const CAP = 200;
/** Per listener: three listeners' worth is twice the gateway's open-file limit. */
const FLOOD = 700;

describe('fault: descriptor exhaustion', { timeout: 300_000 }, () => {
  let c: FaultChain | undefined;
  const certDir = mkdtempSync(join(tmpdir(), 'meterledger-fd-tls-'));
  const flood: (net.Socket & { closedAt?: number })[] = [];
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const s of flood) s.destroy();
    for (const f of closers) await f().catch(() => undefined);
    await c?.gw.stop();
    if (c) rmSync(c.dir, { recursive: true, force: true });
    rmSync(certDir, { recursive: true, force: true });
  });

  test(`${3 * FLOOD} idle sockets against three listeners: meters and HTTP keep being served`, async () => {
    makeCert(certDir, 'server', 'ec', 'localhost');
    chmodSync(join(certDir, 'server.key'), 0o600);
    const tlsPort = await freePort();
    const wsPort = await freePort();
    c = await faultChain({
      meters: 3, logLevel: 'warn',
      config: { mqtt: { tls: { port: tlsPort, keyFile: join(certDir, 'server.key'), certFile: join(certDir, 'server.crt') }, ws: { port: wsPort }, maxConnectionsPerListener: CAP } },
    });
    await c.gw.start(60_000);
    const pid = c.gw.proc!.pid!;
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${OPEN_FILES}:${OPEN_FILES}`]);
    const openFiles = (): number => readdirSync(`/proc/${pid}/fd`).length;
    const before = openFiles();

    const meter = await c.meter(c.meterIds[0]!);
    closers.push(() => meter.close());
    let seq = 0n;
    const publishAndCommit = async (): Promise<void> => {
      const s = ++seq;
      await meter.publish(s);
      await until(`receipt of seq ${s}`, () => meter.committedSeqs().has(s), 30_000, 50);
    };
    await publishAndCommit();

    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, openFiles())), 20);
    try {
      const mqttPort = Number(new URL(c.gw.mqttUrl).port);
      const open = (port: number): Promise<void> => new Promise((resolve) => {
        const s: net.Socket & { closedAt?: number } = net.connect({ port, host: '127.0.0.1' });
        flood.push(s);
        s.on('error', () => undefined);
        s.once('close', () => (s.closedAt = Date.now()));
        s.once('connect', () => resolve());
        s.once('close', () => resolve());
        s.resume();
      });
      for (const port of [mqttPort, tlsPort, wsPort]) {
        for (let i = 0; i < FLOOD; i += 100) await Promise.all(Array.from({ length: 100 }, () => open(port)));
      }
      const now = openFiles();
      console.log(`# flood: ${flood.length} sockets opened; gateway open files ${before} before, ${now} now (at most ${CAP} sockets per listener)`);
      assert.ok(now <= before + 3 * CAP + 50, `the gateway holds ${now} files`);

      // Served while flooded: the connected meter, HTTP.
      for (let i = 0; i < 3; i++) await publishAndCommit();
      for (const path of ['/healthz', '/api/v1/status']) assert.equal((await fetch(`${c.gw.httpUrl}${path}`)).status, 200, path);

      // The gateway sheds the idle sockets itself (10 s each), then takes new meters.
      await until('every flood socket closed by the gateway', () => flood.every((s) => s.closedAt !== undefined), 90_000, 200);
      const newcomer = await c.meter(c.meterIds[1]!);
      closers.push(() => newcomer.close());
      await newcomer.publish(1n);
      await until('the newcomer\'s receipt', () => newcomer.committedSeqs().has(1n), 30_000, 50);
    } finally {
      clearInterval(sample);
    }
    console.log(`# gateway open files at most ${most} of ${OPEN_FILES} during the flood`);
    assert.ok(most < OPEN_FILES - 100, `open files reached ${most}`);
    assert.equal((await fetch(`${c.gw.httpUrl}/healthz`)).status, 200);
  });
});
