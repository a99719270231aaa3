/**
 * The production transport shape on a real gateway process: MQTT over TLS only
 * (mqtt.plaintext false) and the HTTP API over HTTPS (http.tls). A meter publishes with
 * mosquitto_pub over TLS, gets its receipt with mosquitto_sub over TLS; the API answers
 * HTTPS only; the start banner lists mqtts and https and no plain MQTT listener.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { decodeReceiptsTopicMessage, parseGenesis, receiptsTopic, sha256, toHex } from '../../../protocols/index.js';
import { CLI, cli } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import { until } from '../../helpers/until.js';

const run = promisify(execFile);

/** GET over HTTPS trusting only `ca`; the status and body. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('a gateway with TLS only: MQTT over TLS, HTTP over HTTPS', { timeout: 120_000 }, () => {
  let dir: string;
  let proc: ChildProcess;
  let stdout = '';
  let stderr = '';
  let ca: string;
  let mqttsPort: number;
  let httpPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-tls-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '2']);
    assert.equal(init.code, 0, init.stderr);
    // One self-signed certificate for 127.0.0.1 (an IP SAN, so clients check the name too).
    const key = join(dir, 'server.key');
    const crt = join(dir, 'server.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    ca = readFileSync(crt, 'utf8');
    [mqttsPort, httpPort] = [await freePort(), await freePort()];
    const config = join(dir, 'tls-config.json');
    writeFileSync(config, JSON.stringify({
      mqtt: { plaintext: false, tls: { port: mqttsPort, keyFile: key, certFile: crt } },
      http: { port: httpPort, tls: { keyFile: key, certFile: crt } },
      ledger: { blockIntervalMs: 200 },
    }), { mode: 0o600 });
    proc = spawn(process.execPath, [CLI, 'start', '--data-dir', dir, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until('the gateway answering /readyz over HTTPS', async () => {
      if (proc.exitCode !== null) throw new Error(`gateway exited ${proc.exitCode}: ${stderr}`);
      return (await httpsGet(`https://127.0.0.1:${httpPort}/readyz`, ca).catch(() => ({ status: 0 }))).status === 200;
    }, 30_000);
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('the banner lists mqtts and https, and no plain MQTT listener', () => {
    assert.match(stdout, new RegExp(`mqtts\\s+mqtts://127\\.0\\.0\\.1:${mqttsPort}`));
    assert.match(stdout, new RegExp(`http\\s+https://127\\.0\\.0\\.1:${httpPort}`));
    assert.match(stdout, /portal\s+https:\/\//);
    assert.doesNotMatch(stdout, /\bmqtt:\/\//);
    // Everything is on loopback: nothing to warn about.
    assert.doesNotMatch(stderr, /W_PLAINTEXT/);
  });

  test('the API speaks HTTPS only: plain HTTP on its port gets no answer', async () => {
    const r = await httpsGet(`https://127.0.0.1:${httpPort}/api/v1/genesis`, ca);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).chainId, parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8'))).chainId);
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(5000) }));
  });

  test('a meter publishes over TLS with mosquitto_pub (certificate checked) and gets its receipt over TLS', async () => {
    const meter = 'meter-0001';
    const token = async (clientId: string) => {
      const t = await cli(['meter', 'token', '--data-dir', dir, '--meter', meter, '--client-id', clientId]);
      assert.equal(t.code, 0, t.stderr);
      return t.stdout.trim().split('\n')[1]!.replace(/^password: /, '');
    };
    const file = join(dir, 'reading.cbor');
    const signed = await cli(['meter', 'sign', '--data-dir', dir, '--meter', meter, '--seq', '1', '--wh', '1234', '--out', file]);
    assert.equal(signed.code, 0, signed.stderr);
    const caFile = join(dir, 'server.crt');
    const tls = ['-h', '127.0.0.1', '-p', String(mqttsPort), '--cafile', caFile, '-V', 'mqttv311', '-u', meter];
    const sub = run('mosquitto_sub', [...tls, '-i', `${meter}/sub`, '-P', await token(`${meter}/sub`), '-t', receiptsTopic(meter), '-q', '1', '-C', '1', '-W', '30', '-N'],
      { encoding: 'buffer', maxBuffer: 1 << 20 });
    await new Promise((r) => setTimeout(r, 500)); // let the subscription land
    await run('mosquitto_pub', [...tls, '-i', `${meter}/pub`, '-P', await token(`${meter}/pub`), '-t', `meters/${meter}/readings`, '-q', '1', '-f', file]);
    const msg = decodeReceiptsTopicMessage(new Uint8Array((await sub).stdout as unknown as Buffer));
    assert.equal(msg.status, 'committed');
    // Compact by default (docs/protocol.md §8.3.1): seq and hash of the reading sent.
    assert.ok(msg.status === 'committed' && msg.receipt === undefined && msg.seq === 1n);
    assert.equal(msg.status === 'committed' && toHex(msg.txHash), toHex(sha256(readFileSync(file))));
  });

  test('a client that does not trust the certificate is refused by its own TLS check', async () => {
    const other = join(dir, 'other.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'other.key'), '-out', other,
      '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'pipe' });
    await assert.rejects(httpsGet(`https://127.0.0.1:${httpPort}/healthz`, readFileSync(other, 'utf8')), /self.signed|certificate/i);
  });
});
