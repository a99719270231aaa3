/**
 * NatsTransport against real nats-server 2.9 clusters on 127.0.0.1 (test/helpers/
 * nats-cluster.ts): broadcast across routes, forged envelopes dropped, request/reply,
 * credentials, fail-over to another server, and a cut link healed (test/helpers/tcp-proxy.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import { Alg, encodeCbor } from '../../../protocols/index.js';
import { type KeyPair, generateKeyPair } from '../../../ledger-node/keyfile.js';
import { P2pCode, P2pError, sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { NatsTransport, type NatsTransportOptions, natsSubjects } from '../../../ledger-node/p2p/nats.js';
import type { BroadcastKind, PeerKey } from '../../../ledger-node/p2p/transport.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

const CHAIN = 'ml-test.1'; // the '.' becomes '_' in subjects
const SUBJECTS = natsSubjects(CHAIN);
const AUTH = { user: 'gateway', pass: 's3cret pass' };
const T = { timeout: 20_000 };

const keys: Record<string, KeyPair> = Object.fromEntries(['n0', 'n1', 'n2', 'n3', 'mallory'].map((id) => [id, generateKeyPair(Alg.EdDSA)]));
// n3 is in genesis but never runs; mallory is not in genesis.
const PEERS: PeerKey[] = ['n0', 'n1', 'n2', 'n3'].map((id) => ({ id, publicKey: keys[id]!.publicKey }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const isCode = (code: string) => (e: unknown) => e instanceof P2pError && e.code === code;

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Broadcast until `seen()` (interest crosses routes asynchronously after a (re)connect). */
async function broadcastUntil(t: NatsTransport, kind: BroadcastKind, payload: Uint8Array, seen: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!seen()) {
    if (Date.now() > deadline) throw new Error(`${t.nodeId}'s ${kind} broadcast not received within ${ms} ms`);
    t.broadcast(kind, payload);
    await sleep(100);
  }
}

interface Received {
  from: string;
  kind: BroadcastKind;
  text: string;
}
function inbox(t: NatsTransport): Received[] {
  const got: Received[] = [];
  t.onMessage((from, kind, payload) => got.push({ from, kind, text: text(payload) }));
  return got;
}

function recorder() {
  const drops: string[] = [];
  const states: boolean[] = [];
  return { drops, states, metrics: { connected: (up: boolean) => states.push(up), messageDropped: (r: string) => drops.push(r) } };
}

/** Open transports and raw connections of one describe block, closed in its after(). */
class Fleet {
  readonly transports: NatsTransport[] = [];
  readonly raw: NatsConnection[] = [];
  async transport(id: string, over: Partial<NatsTransportOptions>): Promise<NatsTransport> {
    const t = await NatsTransport.connect({
      servers: [],
      chainId: CHAIN,
      nodeId: id,
      nodeKey: keys[id]!.privateKey,
      peers: PEERS,
      heartbeatMs: 250,
      reconnectTimeWaitMs: 250,
      ...over,
    });
    this.transports.push(t);
    return t;
  }
  async close(): Promise<void> {
    await Promise.allSettled([...this.transports.map((t) => t.close()), ...this.raw.map((c) => c.close())]);
  }
}

describe('NATS transport on a 3-server cluster with user/password auth', () => {
  let cluster: NatsCluster;
  const fleet = new Fleet();
  let t0: NatsTransport, t1: NatsTransport, t2: NatsTransport;
  let g0: Received[], g1: Received[], g2: Received[];
  const m0 = recorder();

  before(async () => {
    cluster = await startNatsCluster({ size: 3, auth: AUTH });
    // Each on a different server, so every message crosses a route.
    t0 = await fleet.transport('n0', { servers: [cluster.urls[0]!], auth: AUTH, ignoreClusterUpdates: true, metrics: m0.metrics });
    t1 = await fleet.transport('n1', { servers: [cluster.urls[1]!], auth: AUTH, ignoreClusterUpdates: true });
    t2 = await fleet.transport('n2', { servers: [cluster.urls[2]!], auth: AUTH, ignoreClusterUpdates: true });
    [g0, g1, g2] = [inbox(t0), inbox(t1), inbox(t2)];
    await waitFor('heartbeats from all peers', () => t0.peers().length === 2 && t1.peers().length === 2 && t2.peers().length === 2);
  });
  after(async () => {
    await fleet.close();
    await cluster?.stopAll();
  });

  test('peers() lists the others heard from (heartbeats), never ourselves nor silent genesis peers', T, () => {
    assert.deepEqual(t0.peers(), ['n1', 'n2']);
    assert.deepEqual(t1.peers(), ['n0', 'n2']);
    assert.equal(t0.connected(), true);
    assert.deepEqual(m0.states, [true]);
  });

  test('broadcasts from each server reach the transports on the other two, and not the sender', T, async () => {
    t0.broadcast('consensus', bytes('vote from n0'));
    t1.broadcast('tx', bytes('tx from n1'));
    t2.broadcast('consensus', bytes('proposal from n2'));
    await waitFor('all broadcasts delivered', () => g0.length >= 2 && g1.length >= 2 && g2.length >= 2, 5000);
    await sleep(100);
    const sorted = (g: Received[]) => [...g].sort((a, b) => a.from.localeCompare(b.from));
    assert.deepEqual(sorted(g0), [
      { from: 'n1', kind: 'tx', text: 'tx from n1' },
      { from: 'n2', kind: 'consensus', text: 'proposal from n2' },
    ]);
    assert.deepEqual(sorted(g1), [
      { from: 'n0', kind: 'consensus', text: 'vote from n0' },
      { from: 'n2', kind: 'consensus', text: 'proposal from n2' },
    ]);
    assert.deepEqual(sorted(g2), [
      { from: 'n0', kind: 'consensus', text: 'vote from n0' },
      { from: 'n1', kind: 'tx', text: 'tx from n1' },
    ]);
    g0.length = g1.length = g2.length = 0;
  });

  test('a 5 MiB block crosses the routes; a payload past the 8 MiB envelope limit is dropped and counted, not thrown', T, async () => {
    const big = new Uint8Array(5 * 1024 * 1024).fill(0x5a);
    let received: Uint8Array | undefined;
    t0.onMessage((from, _kind, payload) => {
      if (from === 'n1' && payload.length === big.length) received = payload;
    });
    t1.broadcast('consensus', big);
    await waitFor('the big block', () => received !== undefined, 10_000);
    assert.ok(received!.every((b) => b === 0x5a));
    g0.length = 0;
    const drops0 = m0.drops.length;
    assert.doesNotThrow(() => t0.broadcast('consensus', new Uint8Array(8 * 1024 * 1024)));
    assert.deepEqual(m0.drops.slice(drops0), [P2pCode.TOO_LARGE]);
  });

  test('forged, tampered, foreign, misrouted and garbage envelopes published raw are dropped and counted', T, async () => {
    const nc = await connect({ servers: cluster.urls[1]!, user: AUTH.user, pass: AUTH.pass });
    fleet.raw.push(nc);
    const now = Date.now();
    const valid = sealEnvelope(CHAIN, 'n1', keys.n1!.privateKey, 'consensus', bytes('genuine'), now);
    const tampered = new Uint8Array(valid); // a copy (cborg returns a Buffer: slice() is a view)
    tampered[tampered.length - 70]! ^= 0x01; // a byte of timeMs, inside the signed body
    const drops0 = m0.drops.length;
    nc.publish(SUBJECTS.consensus, sealEnvelope(CHAIN, 'mallory', keys.mallory!.privateKey, 'consensus', bytes('not in genesis'), now));
    nc.publish(SUBJECTS.consensus, sealEnvelope(CHAIN, 'n1', keys.mallory!.privateKey, 'consensus', bytes('posing as n1'), now));
    nc.publish(SUBJECTS.consensus, tampered);
    nc.publish(SUBJECTS.consensus, sealEnvelope('other-chain', 'n1', keys.n1!.privateKey, 'consensus', bytes('other chain'), now));
    nc.publish(SUBJECTS.consensus, bytes('garbage'));
    // Genuinely signed, but a tx envelope replayed onto the consensus subject.
    nc.publish(SUBJECTS.consensus, sealEnvelope(CHAIN, 'n1', keys.n1!.privateKey, 'tx', bytes('misrouted'), now));
    // Same connection, so it arrives after all of the above.
    nc.publish(SUBJECTS.consensus, valid);
    await waitFor('the genuine envelope', () => g0.some((m) => m.text === 'genuine'), 5000).catch((e) => {
      throw new Error(`${(e as Error).message}; got ${JSON.stringify(g0)}, drops ${JSON.stringify(m0.drops.slice(drops0))}`);
    });
    assert.deepEqual(g0, [{ from: 'n1', kind: 'consensus', text: 'genuine' }]);
    assert.deepEqual(m0.drops.slice(drops0).sort(), [
      P2pCode.BAD_SIGNATURE,
      P2pCode.BAD_SIGNATURE,
      P2pCode.MALFORMED,
      P2pCode.MALFORMED,
      P2pCode.UNKNOWN_PEER,
      P2pCode.WRONG_CHAIN,
    ]);
    g0.length = g1.length = g2.length = 0;
  });

  test('request/reply: to a named peer, to any peer, and the failures', T, async () => {
    const slow = (name: string) => async (from: string, p: Uint8Array) => {
      await sleep(50);
      return bytes(`${name} answers ${from}: ${text(p)}`);
    };
    t1.onRequest(slow('n1'));
    t2.onRequest(slow('n2'));

    const direct = await t0.request('n2', bytes('block 7?'), 3000);
    assert.deepEqual({ from: direct.from, text: text(direct.payload) }, { from: 'n2', text: 'n2 answers n0: block 7?' });
    const any = await t0.request(undefined, bytes('head?'), 3000);
    assert.ok(['n1', 'n2'].includes(any.from));
    assert.equal(text(any.payload), `${any.from} answers n0: head?`);

    // n0 subscribes to its subject but has no handler: silence, then a timeout.
    const t = Date.now();
    await assert.rejects(t1.request('n0', bytes('x'), 300), isCode(P2pCode.TIMEOUT));
    assert.ok(Date.now() - t >= 290);
    // n3 is in genesis but not running: NATS says at once that nobody listens.
    await assert.rejects(t0.request('n3', bytes('x'), 3000), isCode(P2pCode.NO_RESPONDERS));
    await assert.rejects(t0.request('mallory', bytes('x'), 3000), isCode(P2pCode.UNKNOWN_PEER));
    await assert.rejects(t0.request('n0', bytes('x'), 3000), isCode(P2pCode.UNKNOWN_PEER));
  });

  test('a quicker forged or unbound answer does not beat the genuine one', T, async () => {
    const nc = await connect({ servers: cluster.urls[0]!, user: AUTH.user, pass: AUTH.pass });
    fleet.raw.push(nc);
    // A NATS insider answering every request at once: one forged as n2, one genuinely
    // signed by n2 but for another request (a replay).
    const stale = sealEnvelope(CHAIN, 'n2', keys.n2!.privateKey, 'sync-res', encodeCbor([new Uint8Array(32), bytes('stale')]), Date.now());
    nc.subscribe(SUBJECTS.syncTo('n2'), {
      callback: (_e, m) => {
        m.respond(sealEnvelope(CHAIN, 'n2', keys.mallory!.privateKey, 'sync-res', encodeCbor([new Uint8Array(32), bytes('forged')]), Date.now()));
        m.respond(stale);
      },
    });
    await nc.flush();
    await sleep(200); // let the interest cross the routes
    const drops0 = m0.drops.length;
    const res = await t0.request('n2', bytes('block 8?'), 3000);
    assert.equal(text(res.payload), 'n2 answers n0: block 8?');
    assert.deepEqual(m0.drops.slice(drops0).sort(), [P2pCode.BAD_SIGNATURE, P2pCode.MALFORMED]);
  });

  test('a wrong password, or none, fails connect() with E_P2P_AUTH at once; no server with E_P2P_CONNECT', T, async () => {
    const t = Date.now();
    for (const auth of [{ user: AUTH.user, pass: 'wrong' }, undefined]) {
      await assert.rejects(
        NatsTransport.connect({ servers: [...cluster.urls], chainId: CHAIN, nodeId: 'n3', nodeKey: keys.n3!.privateKey, peers: PEERS, ...(auth ? { auth } : {}) }),
        (e: unknown) => isCode(P2pCode.AUTH)(e) && /refused our credentials/.test((e as Error).message),
      );
    }
    assert.ok(Date.now() - t < 5000, 'fails fast');
    const closedPort = 'nats://127.0.0.1:1';
    await assert.rejects(
      NatsTransport.connect({ servers: [closedPort], chainId: CHAIN, nodeId: 'n3', nodeKey: keys.n3!.privateKey, peers: PEERS, connectTimeoutMs: 600, reconnectTimeWaitMs: 100 }),
      isCode(P2pCode.CONNECT),
    );
  });

  test('a node key that is not the genesis key of its id is refused', T, async () => {
    await assert.rejects(
      NatsTransport.connect({ servers: [...cluster.urls], chainId: CHAIN, nodeId: 'n3', nodeKey: keys.n2!.privateKey, peers: PEERS, auth: AUTH }),
      isCode(P2pCode.CONFIG),
    );
  });
});

describe('NATS transport fail-over when its server stops', () => {
  let cluster: NatsCluster;
  const fleet = new Fleet();
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await fleet.close();
    await cluster?.stopAll();
  });

  test('moves to another server of the list and keeps sending and receiving', T, async () => {
    const mA = recorder();
    const tA = await fleet.transport('n0', { servers: [...cluster.urls], metrics: mA.metrics });
    const k = cluster.urls.findIndex((u) => u.endsWith(`:${tA.currentServer()!.split(':')[1]}`));
    assert.ok(k >= 0, `connected to one of ours (${tA.currentServer()})`);
    const other = (k + 1) % 3;
    const tB = await fleet.transport('n1', { servers: [cluster.urls[other]!] });
    const [gA, gB] = [inbox(tA), inbox(tB)];
    await waitFor('peers', () => tA.peers().includes('n1') && tB.peers().includes('n0'));

    await cluster.stop(k);
    await waitFor('reconnect elsewhere', () => mA.states.includes(false) && tA.connected() && !tA.currentServer()!.endsWith(`:${cluster.ports[k]}`));
    assert.deepEqual(mA.states, [true, false, true]);

    await broadcastUntil(tB, 'consensus', bytes('after fail-over'), () => gA.some((m) => m.text === 'after fail-over'));
    await broadcastUntil(tA, 'tx', bytes('from the moved node'), () => gB.some((m) => m.text === 'from the moved node'));
    tB.onRequest(async () => bytes('still here'));
    assert.equal(text((await tA.request('n1', bytes('?'), 3000)).payload), 'still here');
  });
});

describe('NATS transport behind a TCP proxy that is cut and healed', () => {
  let cluster: NatsCluster;
  const fleet = new Fleet();
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
  });
  after(async () => {
    await fleet.close();
    await Promise.allSettled(closers.map((c) => c()));
    await cluster?.stopAll();
  });

  test('goes disconnected, drops what it sends meanwhile, then reconnects and receives again', T, async () => {
    const proxy = await startTcpProxy(cluster.ports[0]!);
    closers.push(() => proxy.close());
    const mP = recorder();
    // Without ignoreClusterUpdates nats.js learns the servers' own addresses from the
    // cluster and, once the proxy is cut, simply reconnects to them directly.
    const tP = await fleet.transport('n0', { servers: [`nats://127.0.0.1:${proxy.port}`], ignoreClusterUpdates: true, metrics: mP.metrics });
    const tQ = await fleet.transport('n1', { servers: [cluster.urls[1]!], ignoreClusterUpdates: true });
    const [gP, gQ] = [inbox(tP), inbox(tQ)];
    await waitFor('peers', () => tP.peers().includes('n1') && tQ.peers().includes('n0'));

    proxy.cut();
    await waitFor('tP disconnected', () => !tP.connected(), 5000);
    assert.equal(tP.currentServer(), undefined);
    tQ.broadcast('consensus', bytes('while cut'));
    const drops0 = mP.drops.length;
    tP.broadcast('consensus', bytes('sent while cut'));
    assert.deepEqual(mP.drops.slice(drops0), [P2pCode.DISCONNECTED]);
    await assert.rejects(tP.request('n1', bytes('?'), 1000), isCode(P2pCode.DISCONNECTED));
    await sleep(300);
    assert.equal(gP.length, 0);
    assert.equal(gQ.length, 0);
    // Heartbeats stop, so after the window the peer is no longer listed.
    await waitFor('n0 ages out of tQ.peers(500)', () => !tQ.peers(500).includes('n0'), 5000);

    proxy.heal();
    await waitFor('tP reconnected', () => tP.connected(), 10_000);
    assert.deepEqual(mP.states, [true, false, true]);
    await broadcastUntil(tQ, 'tx', bytes('after heal'), () => gP.some((m) => m.text === 'after heal'));
    await broadcastUntil(tP, 'tx', bytes('P is back'), () => gQ.some((m) => m.text === 'P is back'));
    assert.ok(!gP.some((m) => m.text === 'while cut'), 'nothing from the cut period is replayed');
    await waitFor('n0 back in tQ.peers()', () => tQ.peers(500).includes('n0'), 5000);
  });
});

describe('NATS transport when the server stops accepting its password', () => {
  let cluster: NatsCluster;
  const fleet = new Fleet();
  before(async () => {
    cluster = await startNatsCluster({ size: 1, auth: AUTH });
  });
  after(async () => {
    await fleet.close();
    await cluster?.stopAll();
  });

  test('nats.js gives up after two auth errors; the transport dials anew until it is let in', T, async () => {
    const m = recorder();
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (_o: object | string, msg?: string) => void errors.push(msg ?? '') };
    const t = await fleet.transport('n0', { servers: [cluster.urls[0]!], auth: AUTH, metrics: m.metrics, logger });
    const other = await fleet.transport('n1', { servers: [cluster.urls[0]!], auth: AUTH });
    const got = inbox(t);
    await cluster.stop(0);
    await cluster.start(0, { auth: { user: AUTH.user, pass: 'rotated' } });
    await sleep(2500); // both are refused now; nats.js closes their connections for good
    assert.equal(t.connected(), false);
    assert.deepEqual(errors, ['NATS connection closed for good; dialling a new one']);
    await cluster.stop(0);
    await cluster.start(0, { auth: AUTH });
    await waitFor('both back', () => t.connected() && other.connected(), 10_000);
    assert.deepEqual(m.states, [true, false, true]);
    await broadcastUntil(other, 'consensus', bytes('welcome back'), () => got.some((g) => g.text === 'welcome back'));
  });
});
