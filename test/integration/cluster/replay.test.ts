/**
 * Issue 18, old envelopes passing as fresh: someone on NATS records what two validators
 * say, one of them stops, and the recording is played back to the other, over and over.
 * The stopped validator must drop out of /api/v1/status and the quorum metric must go to
 * 0 (the height is frozen: nothing commits without it), whatever is replayed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import { parseGenesis } from '../../../protocols/index.js';
import { clusterMeterId, dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { metric } from '../../helpers/metrics.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { sleep, until } from '../../helpers/until.js';

describe('replayed peer messages of a stopped validator', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-replay-'));
  let nats: NatsCluster | undefined;
  let recorder: NatsConnection | undefined;
  let m: TestMeter | undefined;
  const gws: GatewayProcess[] = [];
  after(async () => {
    await m?.close().catch(() => {});
    await recorder?.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('do not make it a peer again: /api/v1/status drops it, has_quorum goes to 0 and stays there', async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
    const init = await cli(['testnet', '--validators', '2', '--meters', '1', '--out', join(root, 'net'), '--nats', nats.urls[0]!]);
    assert.equal(init.code, 0, init.stderr);
    const genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    for (let i = 0; i < 2; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.ledger = { blockIntervalMs: 200 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    const [g0, g1] = gws as [GatewayProcess, GatewayProcess];
    type Status = { height: number; consensus: { peers: string[] } };
    const status = async () => (await g0.json<Status>('/api/v1/status')).body;
    const quorum = () => metric(g0.httpUrl, 'meterledger_consensus_has_quorum');

    // Record everything on the chain's subjects from before the validators start.
    recorder = await connect({ servers: nats.urls[0]! });
    const rec = recorder;
    const recorded: { subject: string; data: Uint8Array }[] = [];
    const tap = rec.subscribe(`ml.${genesis.chainId.replaceAll('.', '_')}.>`, { callback: (_e, msg) => void recorded.push({ subject: msg.subject, data: new Uint8Array(msg.data) }) });
    await rec.flush();

    await Promise.all([g0.start(60_000), g1.start(60_000)]);
    const id = clusterMeterId(0, 0);
    m = await TestMeter.connect(g0.mqttUrl, genesis, id, loadKeyFile(dataPaths(g0.dataDir).meterKey(id)));
    for (let seq = 1n; seq <= 3n; seq++) await m.publish(seq);
    await until('a block with both validators', async () => (await status()).height >= 1 && (await quorum()) === 1, 30_000);
    await sleep(3000); // a few heartbeats and status rounds on the recording

    await g1.stop();
    tap.unsubscribe(); // the tape ends here
    const tape = recorded.slice();
    const stoppedAt = Date.now();
    const frozen = (await status()).height;
    let replaying = true;
    const replays = (async () => {
      let n = 0;
      while (replaying) {
        for (const r of tape) rec.publish(r.subject, r.data);
        n++;
        await rec.flush();
        await sleep(250);
      }
      return n;
    })();
    await m.publish(4n); // waits for a block that cannot come
    await until('validator-1 out of the peers and no quorum', async () => {
      const s = await status();
      return s.consensus.peers.length === 0 && (await quorum()) === 0;
    }, 40_000).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}: peers ${JSON.stringify((await status()).consensus.peers)}, has_quorum ${await quorum()}`);
    });
    // And it stays so while the replay goes on (two status rounds of the driver, 2 s each).
    const until5 = Date.now() + 5000;
    while (Date.now() < until5) {
      assert.deepEqual((await status()).consensus.peers, []);
      assert.equal(await quorum(), 0);
      await sleep(500);
    }
    replaying = false;
    const replayed = await replays;
    assert.equal((await status()).height, frozen, 'the height stayed frozen');
    const refused = (await metric(g0.httpUrl, 'meterledger_peer_messages_dropped_total', 'reason="E_P2P_REPLAY"')) +
      (await metric(g0.httpUrl, 'meterledger_peer_messages_dropped_total', 'reason="E_P2P_STALE"'));
    assert.ok(refused > 0, 'the replays were refused as replays or as stale');
    console.log(`# replay: a tape of ${tape.length} messages played ${replayed} times over ${Math.round((Date.now() - stoppedAt) / 1000)} s; ${refused} refused`);
  });
});
