/**
 * The durable gossip stream (ledger-node/p2p/jetstream.ts) meeting a stream that already
 * exists on a real nats-server with JetStream: one made by an older gateway, or under
 * other settings, with a message size too small for this chain's largest transaction. Its
 * limits are raised before anything is published (else every publish of a large
 * transaction would be refused, again and again), and limits already larger are kept.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DiscardPolicy, type NatsConnection, RetentionPolicy, StorageType, connect, nanos } from 'nats';
import { Alg, type SignedTx, type TxBody, peerSubjects, toHex } from '../../../protocols/index.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { DurableGossip, streamLimitsToRaise, streamName } from '../../../ledger-node/p2p/jetstream.js';
import { startNatsServer } from '../../helpers/nats-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'meterledger-js-stream-'));
const servers: ChildProcess[] = [];
const conns: NatsConnection[] = [];
const gossips: DurableGossip[] = [];
after(async () => {
  for (const g of gossips) g.close();
  for (const c of conns) await c.close().catch(() => {});
  for (const s of servers) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startJetStream(name: string): Promise<string> {
  const { port, proc } = await startNatsServer(dir, name, `max_payload: 8MB\njetstream { store_dir: "${join(dir, name)}" }`);
  servers.push(proc);
  return `nats://127.0.0.1:${port}`;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const MAX_TX = 64 * 1024;

function gossip(chainId: string, nc: NatsConnection): DurableGossip {
  const key = generateKeyPair(Alg.EdDSA);
  const g = new DurableGossip(
    {
      chainId, nodeId: 'gw-0', nodeKey: key.privateKey, peers: [{ id: 'gw-0', publicKey: key.publicKey }], consume: false,
      replicas: 1, maxAgeMs: 3_600_000, maxBytes: 64 * 1024 * 1024, maxTxBytes: MAX_TX, retryMs: 200, logger: silent,
    },
    () => nc, async () => 'done', () => [],
  );
  gossips.push(g);
  g.start();
  return g;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('an existing stream whose message size is too small is raised, and a large transaction then goes in', { timeout: 60_000 }, async () => {
  const nc = await connect({ servers: await startJetStream('small') });
  conns.push(nc);
  const chainId = 'js-small';
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: streamName(chainId), subjects: [peerSubjects(chainId).txlog], retention: RetentionPolicy.Limits, storage: StorageType.File,
    num_replicas: 1, max_age: nanos(60_000), max_bytes: 1024 * 1024, max_msg_size: 512, discard: DiscardPolicy.Old,
    duplicate_window: nanos(30_000),
  });
  const g = gossip(chainId, nc);
  await until('the stream to answer', () => g.streaming);
  const config = (await jsm.streams.info(streamName(chainId))).config;
  assert.equal(config.max_msg_size, MAX_TX + 1024);
  assert.equal(config.max_age, nanos(3_600_000));
  assert.equal(config.max_bytes, 64 * 1024 * 1024);
  assert.equal(config.duplicate_window, nanos(600_000));

  const bytes = new Uint8Array(MAX_TX - 100).fill(7);
  g.publish({ bytes, hashHex: toHex(new Uint8Array(32).fill(1)) } as unknown as SignedTx<TxBody>);
  await until('the transaction in the stream', async () => (await jsm.streams.info(streamName(chainId))).state.messages === 1);
  assert.equal(g.queued, 0);
});

test('limits of an existing stream larger than needed are kept, never lowered', { timeout: 60_000 }, async () => {
  const nc = await connect({ servers: await startJetStream('large') });
  conns.push(nc);
  const chainId = 'js-large';
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: streamName(chainId), subjects: [peerSubjects(chainId).txlog], retention: RetentionPolicy.Limits, storage: StorageType.File,
    num_replicas: 1, max_age: nanos(7_200_000), max_bytes: -1, max_msg_size: 1024 * 1024, discard: DiscardPolicy.Old,
    duplicate_window: nanos(900_000),
  });
  const g = gossip(chainId, nc);
  await until('the stream to answer', () => g.streaming);
  const config = (await jsm.streams.info(streamName(chainId))).config;
  assert.equal(config.max_msg_size, 1024 * 1024);
  assert.equal(config.max_age, nanos(7_200_000));
  assert.equal(config.max_bytes, -1);
  assert.equal(config.duplicate_window, nanos(900_000));
});

test('streamLimitsToRaise: only limits below the need, -1 and 0 as unlimited', () => {
  const need = { max_msg_size: 2048, max_age: 100, max_bytes: 1000, duplicate_window: 50 };
  assert.equal(streamLimitsToRaise({ max_msg_size: -1, max_age: 0, max_bytes: -1, duplicate_window: 50 }, need), undefined);
  assert.deepEqual(streamLimitsToRaise({ max_msg_size: 1024, max_age: 200, max_bytes: 999, duplicate_window: 0 }, need),
    { max_msg_size: 2048, max_bytes: 1000, duplicate_window: 50 });
});

test('after a peer\'s key is rotated, its entries sealed with the old key are still taken from the stream; a stranger\'s are not', { timeout: 60_000 }, async () => {
  const nc = await connect({ servers: await startJetStream('rotated') });
  conns.push(nc);
  const chainId = 'js-rotated';
  const me = generateKeyPair(Alg.EdDSA);
  const old = generateKeyPair(Alg.EdDSA);
  const rotated = generateKeyPair(Alg.EdDSA);
  const stranger = generateKeyPair(Alg.EdDSA);
  const taken: string[] = [];
  const g = new DurableGossip(
    {
      chainId, nodeId: 'gw-0', nodeKey: me.privateKey, consume: true,
      peers: [{ id: 'gw-0', publicKey: me.publicKey }, { id: 'gw-1', publicKey: old.publicKey }],
      replicas: 1, maxAgeMs: 3_600_000, maxBytes: 64 * 1024 * 1024, maxTxBytes: MAX_TX, retryMs: 200, logger: silent,
    },
    () => nc, async (tx, from) => {
      taken.push(`${from}:${Buffer.from(tx).toString()}`);
      return 'done';
    }, () => [],
  );
  gossips.push(g);
  g.start();
  await until('the stream to answer', () => g.streaming);
  // gw-1's key is rotated by a committed change (the peer list now names only its new key).
  g.setPeers([{ id: 'gw-0', publicKey: me.publicKey }, { id: 'gw-1', publicKey: rotated.publicKey }]);
  const js = nc.jetstream();
  const put = (key: typeof old, body: string, n: number) =>
    js.publish(peerSubjects(chainId).txlog, sealEnvelope(chainId, 'gw-1', key.privateKey, 'tx', new TextEncoder().encode(body), Date.now()).bytes, { msgID: `m${n}` });
  await put(old, 'sealed-before', 1);
  await put(rotated, 'sealed-after', 2);
  await put(stranger, 'forged', 3);
  await until('both entries of gw-1 taken', () => taken.length >= 2);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(taken.sort(), ['gw-1:sealed-after', 'gw-1:sealed-before']);
});
