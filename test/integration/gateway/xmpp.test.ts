/**
 * The real gateway process with its XMPP bridge on a private Prosody (STARTTLS with the
 * test's CA through xmpp.tls.caFile): XMPP meters (the `simulate-xmpp` CLI over direct TLS,
 * and a raw client) and an MQTT meter write into one chain; a JID-bound meter cannot be submitted
 * from another account; a Prosody restart is survived without losing an accepted reading;
 * a wrong XMPP password stops start-up naming the setting. docs/xmpp.md.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Genesis, ReasonCode, TxType, parseGenesis, signTx } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type Prosody, startProsody } from '../../helpers/prosody.js';
import { NS_READING, TestClient } from '../xmpp/support.js';

const PASSWORDS = { gateway: 'gw-secret-0001', 'meter-0001': 'm1-secret-0001', 'meter-0002': 'm2-secret-0002' } as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns a value, within `timeoutMs`. */
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('gateway with XMPP meters, against a real Prosody', { timeout: 300_000 }, () => {
  let dir: string;
  let prosody: Prosody | undefined;
  let gw: GatewayProcess | undefined;
  let genesis: Genesis;
  let gatewayJid: string;
  let caFile: string;
  const keys = new Map<string, KeyPair>();
  const clients: TestClient[] = [];

  const sign = (meterId: string, seq: bigint): Uint8Array => {
    const k = keys.get(meterId)!;
    return signTx(genesis.chainId, k.alg, k.secretKey, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: Number(seq % 1_000_000n) });
  };
  const connect = async (user: keyof typeof PASSWORDS): Promise<TestClient> => {
    const c = await TestClient.connect(prosody!, user, PASSWORDS[user], `t-${Math.random().toString(36).slice(2, 8)}`);
    clients.push(c);
    return c;
  };
  const committed = async (meterId: string, seq: bigint): Promise<boolean> =>
    (await gw!.get(`/api/v1/meters/${meterId}/receipts/${seq}`)).status === 200;
  const metric = async (series: string): Promise<number | undefined> => {
    const text = await (await fetch(`${gw!.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-xmpp-'));
    prosody = await startProsody({ accounts: PASSWORDS });
    gatewayJid = `gateway@${prosody.domain}`;
    const init = await cli(['init', '--data-dir', dir, '--meters', '3', '--meter-alg', 'mixed']);
    assert.equal(init.code, 0, init.stderr);
    // Bind meter-0002 to its own account before the first start (genesis meters[].jid).
    const gPath = dataPaths(dir).genesis;
    const doc = JSON.parse(readFileSync(gPath, 'utf8')) as { meters: { id: string; jid?: string }[] };
    doc.meters.find((m) => m.id === 'meter-0002')!.jid = `meter-0002@${prosody.domain}`;
    writeFileSync(gPath, JSON.stringify(doc, null, 2) + '\n');
    genesis = parseGenesis(JSON.parse(readFileSync(gPath, 'utf8')));
    for (const id of ['meter-0001', 'meter-0002', 'meter-0003']) keys.set(id, loadKeyFile(dataPaths(dir).meterKey(id)));
    caFile = join(dir, 'xmpp-ca.pem');
    writeFileSync(caFile, prosody.ca!);
    const cfg = join(dir, 'test-config.json');
    writeFileSync(cfg, JSON.stringify({
      ledger: { blockIntervalMs: 200 },
      xmpp: {
        service: prosody.service, domain: prosody.domain, username: 'gateway', password: PASSWORDS.gateway, resource: 'bridge',
        tls: { caFile: 'xmpp-ca.pem' }, reconnect: { minMs: 200, maxMs: 1000 },
      },
    }), { mode: 0o600 }); // holds a password: private
    gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start(60_000);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop().catch(() => undefined);
    await prosody?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('status reports xmpp online; /readyz is 200', async () => {
    const st = await gw!.json<{ ready: boolean; xmpp?: { state: string } }>('/api/v1/status');
    assert.equal(st.status, 200);
    assert.deepEqual(st.body.xmpp, { state: 'online' });
    assert.equal(st.body.ready, true);
    assert.equal((await fetch(`${gw!.httpUrl}/readyz`)).status, 200);
  });

  test('XMPP meters (simulate-xmpp) and an MQTT meter write into the same chain; verify --http passes', async () => {
    const pwFile = join(dir, 'xmpp-passwords.txt');
    writeFileSync(pwFile, `# meterId password\nmeter-0001 ${PASSWORDS['meter-0001']}\nmeter-0002 ${PASSWORDS['meter-0002']}\n`, { mode: 0o600 });
    // The meters use direct TLS (RFC 7590), the gateway's bridge STARTTLS: both with the test's CA.
    const r = await cli(['simulate-xmpp', '--data-dir', dir, '--xmpp', prosody!.directTlsService!, '--xmpp-domain', prosody!.domain,
      '--gateway-jid', gatewayJid, '--xmpp-password-file', pwFile, '--xmpp-ca-file', caFile, '--readings', '5', '--timeout-s', '30', '--json'],
    { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.acknowledged, 10, r.stderr);
    assert.equal(summary.receipted, 10);
    assert.equal(summary.rejected, 0);
    assert.ok(summary.p50_ms > 0 && summary.p99_ms >= summary.p50_ms, JSON.stringify(summary));

    const mqttMeter = await TestMeter.connect(gw!.mqttUrl, genesis, 'meter-0003', keys.get('meter-0003')!);
    const mqttSeqs = [0n, 1n, 2n, 3n, 4n].map((i) => BigInt(Date.now()) * 1000n + i);
    try {
      for (const s of mqttSeqs) await mqttMeter.publish(s);
      await eventually('MQTT receipts', 20_000, async () => (mqttSeqs.every((s) => mqttMeter.committedSeqs().has(s)) ? true : undefined));
    } finally {
      await mqttMeter.close();
    }

    type Readings = { readings: { seq: string; height: number; txHash: string }[] };
    for (const id of ['meter-0001', 'meter-0002']) {
      const rs = await gw!.json<Readings>(`/api/v1/meters/${id}/readings?limit=1000`);
      assert.equal(rs.status, 200);
      assert.equal(rs.body.readings.length, 5, `${id}: the 5 XMPP readings are committed`);
    }
    const m3 = await gw!.json<Readings>('/api/v1/meters/meter-0003/readings?limit=1000');
    assert.deepEqual(m3.body.readings.map((x) => x.seq), mqttSeqs.map(String));
    assert.ok(((await metric('meterledger_readings_received_total{transport="xmpp"}')) ?? 0) >= 10);
    assert.ok(((await metric('meterledger_readings_received_total{transport="mqtt"}')) ?? 0) >= 5);

    // Raw blocks hold readings: the operator's token (docs/http-api.md §Access).
    const v = await cli(['verify', '--http', gw!.httpUrl, '--genesis', dataPaths(dir).genesis], { timeoutMs: 60_000, env: { METERLEDGER_HTTP_ADMIN_TOKEN: gw!.adminToken } });
    assert.equal(v.code, 0, v.stderr + v.stdout);
  });

  test('a reading of a JID-bound meter from another account is refused with E_READING_WRONG_METER', async () => {
    const intruder = await connect('meter-0001');
    const owner = await connect('meter-0002');
    const bytes = sign('meter-0002', BigInt(Date.now()) * 1000n); // correctly signed by meter-0002's key
    await intruder.sendReading(gatewayJid, 'wrong-1', 'meter-0002', bytes);
    const refused = await intruder.ack('wrong-1', 10_000);
    assert.equal(refused.attrs.status, 'rejected');
    assert.equal(refused.attrs.code, ReasonCode.WRONG_METER);
    assert.equal(refused.attrs.code, 'E_READING_WRONG_METER');
    // The same bytes from the bound account go through and get a receipt.
    await owner.sendReading(gatewayJid, 'right-1', 'meter-0002', bytes);
    assert.equal((await owner.ack('right-1', 10_000)).attrs.status, 'accepted');
    assert.ok((await owner.receipt('right-1', 15_000)).getText().length > 0);
  });

  test('the same reading sent again after its commit (its ack lost) is acknowledged as accepted and receipted again (docs/protocol.md §3.8)', async () => {
    const m = await connect('meter-0002');
    const seq = BigInt(Date.now()) * 1000n + 3n;
    const bytes = sign('meter-0002', seq);
    await m.sendReading(gatewayJid, 'once-1', 'meter-0002', bytes);
    assert.equal((await m.ack('once-1', 10_000)).attrs.status, 'accepted');
    const first = await m.receipt('once-1', 15_000);
    await m.sendReading(gatewayJid, 'once-2', 'meter-0002', bytes);
    const ack = await m.ack('once-2', 10_000);
    assert.equal(ack.attrs.status, 'accepted', ack.toString());
    assert.equal(ack.attrs.seq, String(seq));
    const second = await m.receipt('once-2', 15_000);
    assert.equal(second.getText(), first.getText(), 'the same receipt');
    assert.equal(second.attrs.height, first.attrs.height);
  });

  test('Prosody restarted mid-run: /readyz 503 then 200, state back online, every accepted reading committed', async (t) => {
    const before = await connect('meter-0001');
    const base = BigInt(Date.now()) * 1000n;
    const sentBefore = Array.from({ length: 20 }, (_, i) => base + BigInt(i));
    for (const s of sentBefore) await before.sendReading(gatewayJid, `pre-${s}`, 'meter-0001', sign('meter-0001', s));
    await before.ack(`pre-${sentBefore[0]}`, 10_000); // the run is under way

    // Watch readiness through the outage.
    const seen: { status: number; reasons?: string[] }[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          const r = await gw!.json<{ reasons?: string[] }>('/readyz');
          seen.push({ status: r.status, ...(r.body.reasons ? { reasons: r.body.reasons } : {}) });
        } catch {
          /* the gateway is up throughout; a failed fetch is just skipped */
        }
        await sleep(50);
      }
    })();
    try {
      await prosody!.restart({ downMs: 2000 });
      await eventually('/readyz 200 after the restart', 30_000, async () => {
        const ok = seen.some((x) => x.status === 503) && (await fetch(`${gw!.httpUrl}/readyz`)).status === 200;
        return ok ? true : undefined;
      });
    } finally {
      watching = false;
      await watcher;
    }
    const down = seen.find((x) => x.status === 503);
    assert.ok(down, 'readyz went 503 while Prosody was down');
    assert.ok(down.reasons?.some((r) => /^xmpp not online \((offline|connecting)\)$/.test(r)), JSON.stringify(down));
    const st = await gw!.json<{ xmpp?: { state: string } }>('/api/v1/status');
    assert.deepEqual(st.body.xmpp, { state: 'online' });

    // The meter logs in again (its old session died with the server) and goes on.
    const again = await connect('meter-0001');
    const sentAfter = Array.from({ length: 10 }, (_, i) => base + 100n + BigInt(i));
    for (const s of sentAfter) await again.sendReading(gatewayJid, `post-${s}`, 'meter-0001', sign('meter-0001', s));
    for (const s of sentAfter) {
      assert.equal((await again.ack(`post-${s}`, 15_000)).attrs.status, 'accepted', `post-${s}`);
      await again.receipt(`post-${s}`, 15_000);
    }

    // Every reading acknowledged as accepted, on either session (acks queued over the outage
    // reach the account's new session or its offline store), is in the chain.
    const accepted = new Set<bigint>();
    for (const c of [before, again]) {
      for (const s of c.received) {
        const ack = s.getChild('ack', NS_READING);
        if (ack?.attrs.status === 'accepted') accepted.add(BigInt(ack.attrs.seq!));
      }
    }
    assert.ok(accepted.size >= 1 + sentAfter.length, `accepted: ${[...accepted].join(', ')}`);
    t.diagnostic(`${accepted.size - sentAfter.length} of ${sentBefore.length} readings sent before it were acknowledged as accepted`);
    for (const s of accepted) await eventually(`commit of meter-0001 seq ${s}`, 20_000, async () => ((await committed('meter-0001', s)) ? true : undefined));
  });

  test('/metrics: meterledger_xmpp_connected 1 and the XMPP counters moved', async () => {
    assert.equal(await metric('meterledger_xmpp_connected'), 1);
    assert.equal(await metric('meterledger_xmpp_state{state="online"}'), 1);
    // At least: 10 simulated, 2 in the JID test, 1 + 10 around the restart; receipts for all but the refused one.
    const received = (await metric('meterledger_xmpp_stanzas_received_total')) ?? 0;
    const receipts = (await metric('meterledger_xmpp_receipts_sent_total')) ?? 0;
    assert.ok(received >= 23, `stanzas received ${received}`);
    assert.ok(receipts >= 21, `receipts sent ${receipts}`);
    assert.equal(await metric('meterledger_xmpp_stanzas_refused_total{reason="E_READING_MALFORMED"}'), 0);
  });

  test('a wrong XMPP password stops start-up with E_XMPP_AUTH naming xmpp.password, never the password', async () => {
    const d = mkdtempSync(join(tmpdir(), 'meterledger-xmpp-bad-'));
    try {
      const cfg = join(d, 'bad.json');
      writeFileSync(cfg, JSON.stringify({
        xmpp: { service: prosody!.service, domain: prosody!.domain, username: 'gateway', password: 'not-the-password-42', tls: { caFile } },
      }), { mode: 0o600 });
      const r = await cli(['start', '--data-dir', join(d, 'data'), '--mqtt-port', String(await freePort()), '--http-port', String(await freePort()), '--config', cfg],
        { timeoutMs: 45_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: E_XMPP_AUTH: .*gateway@.*xmpp\.password/);
      assert.doesNotMatch(r.stderr, /not-the-password-42/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
