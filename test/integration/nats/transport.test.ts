/**
 * The peer layer over the NATS carrier against real nats-server 2.9 clusters on 127.0.0.1
 * (test/helpers/nats-cluster.ts): broadcast across routes, forged, replayed and garbage
 * envelopes dropped, request/reply, credentials (in the options or in the URL, never in a
 * log line), fail-over to another server, a cut link healed (test/helpers/tcp-proxy.ts),
 * and a node that opens before any server runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import { Alg, bindAnswer, parsePeerEnvelope, peerSubjects } from '../../../protocols/index.js';
import { type KeyPair, generateKeyPair } from '../../../ledger-node/keyfile.js';
import { sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { P2pCode, P2pError } from '../../../ledger-node/p2p/errors.js';
import { type NatsCarrier, type NatsCarrierOptions, openNatsPeerLayer } from '../../../ledger-node/p2p/nats.js';
import type { PeerLayer, PeerLayerOptions } from '../../../ledger-node/p2p/peers.js';
import type { BroadcastKind, PeerKey } from '../../../ledger-node/p2p/transport.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

const CHAIN = 'ml-test.1'; // the '.' becomes '_' in subjects
const SUBJECTS = peerSubjects(CHAIN);
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

/** A peer layer on its NATS carrier, as a gateway runs it. */
type NatsPeer = PeerLayer & { readonly nats: NatsCarrier };

/** Broadcast until `seen()` (interest crosses routes asynchronously after a (re)connect). */
async function broadcastUntil(t: PeerLayer, kind: BroadcastKind, payload: Uint8Array, seen: () => boolean, ms = 10_000): Promise<void> {
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
function inbox(t: PeerLayer): Received[] {
  const got: Received[] = [];
  t.onMessage((from, kind, payload) => got.push({ from, kind, text: text(payload) }));
  return got;
}

function recorder() {
  const drops: string[] = [];
  const states: boolean[] = [];
  return { drops, states, metrics: { connected: (up: boolean) => states.push(up), messageDropped: (r: string) => drops.push(r) } };
}

type Over = Partial<Omit<NatsCarrierOptions, 'name'>> & Partial<Omit<PeerLayerOptions, 'chainId' | 'nodeId' | 'nodeKey' | 'peers'>>;

/** Open the peer layer of `id` over NATS: carrier options and layer options in one bag. */
async function openPeer(id: string, over: Over): Promise<NatsPeer> {
  const { servers = [], auth, tls, ignoreClusterUpdates, reconnect = { minMs: 250 }, pingIntervalMs, logEveryMs, logger, ...layer } = over;
  const { layer: t, carrier } = await openNatsPeerLayer(
    { servers, name: `test/${id}`, reconnect, ...(auth ? { auth } : {}), ...(tls ? { tls } : {}), ...(ignoreClusterUpdates ? { ignoreClusterUpdates } : {}),
      ...(pingIntervalMs ? { pingIntervalMs } : {}), ...(logEveryMs !== undefined ? { logEveryMs } : {}), ...(logger ? { logger } : {}) },
    { chainId: CHAIN, nodeId: id, nodeKey: keys[id]!.privateKey, peers: PEERS, heartbeatMs: 250, ...(logger ? { logger } : {}), ...layer },
  );
  return Object.assign(t, { nats: carrier });
}

/** Open transports and raw connections of one describe block, closed in its after(). */
class Fleet {
  readonly transports: NatsPeer[] = [];
  readonly raw: NatsConnection[] = [];
  async transport(id: string, over: Over): Promise<NatsPeer> {
    const t = await openPeer(id, over);
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
  let t0: NatsPeer, t1: NatsPeer, t2: NatsPeer;
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

  test('forged, tampered, foreign, misrouted, stale, replayed and garbage envelopes published raw are dropped and counted', T, async () => {
    const nc = await connect({ servers: cluster.urls[1]!, user: AUTH.user, pass: AUTH.pass });
    fleet.raw.push(nc);
    const now = Date.now();
    const seal = (from: string, key: KeyPair, kind: Parameters<typeof sealEnvelope>[3], text: string, at = now, chain = CHAIN) =>
      sealEnvelope(chain, from, key.privateKey, kind, bytes(text), at).bytes;
    const valid = seal('n1', keys.n1!, 'consensus', 'genuine', now + 1);
    const tampered = new Uint8Array(seal('n1', keys.n1!, 'consensus', 'tampered'));
    tampered[25]! ^= 0x01; // a byte of timeMs, inside the signed header
    const taken = seal('n1', keys.n1!, 'consensus', 'taken once', now + 2);
    const drops0 = m0.drops.length;
    nc.publish(SUBJECTS.consensus, seal('mallory', keys.mallory!, 'consensus', 'not in genesis'));
    nc.publish(SUBJECTS.consensus, seal('n1', keys.mallory!, 'consensus', 'posing as n1'));
    nc.publish(SUBJECTS.consensus, tampered);
    nc.publish(SUBJECTS.consensus, seal('n1', keys.n1!, 'consensus', 'other chain', now, 'other-chain'));
    nc.publish(SUBJECTS.consensus, bytes('garbage'));
    // Genuinely signed, but a tx envelope replayed onto the consensus subject.
    nc.publish(SUBJECTS.consensus, seal('n1', keys.n1!, 'tx', 'misrouted'));
    // Genuinely signed, an hour ago.
    nc.publish(SUBJECTS.consensus, seal('n1', keys.n1!, 'consensus', 'old', now - 3_600_000));
    // Genuinely signed, taken once, then replayed.
    nc.publish(SUBJECTS.consensus, taken);
    nc.publish(SUBJECTS.consensus, taken);
    // Same connection, so it arrives after all of the above.
    nc.publish(SUBJECTS.consensus, valid);
    await waitFor('the genuine envelope', () => g0.some((m) => m.text === 'genuine'), 5000).catch((e) => {
      throw new Error(`${(e as Error).message}; got ${JSON.stringify(g0)}, drops ${JSON.stringify(m0.drops.slice(drops0))}`);
    });
    assert.deepEqual(g0, [{ from: 'n1', kind: 'consensus', text: 'taken once' }, { from: 'n1', kind: 'consensus', text: 'genuine' }]);
    assert.deepEqual(m0.drops.slice(drops0).sort(), [
      P2pCode.BAD_SIGNATURE,
      P2pCode.BAD_SIGNATURE,
      P2pCode.MALFORMED,
      P2pCode.MISADDRESSED,
      P2pCode.REPLAY,
      P2pCode.STALE,
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
    const stale = sealEnvelope(CHAIN, 'n2', keys.n2!.privateKey, 'sync-res', bindAnswer(new Uint8Array(32), bytes('stale')), Date.now(), 'n0').bytes;
    const insider = nc.subscribe(SUBJECTS.syncTo('n2'), {
      callback: (_e, m) => {
        m.respond(sealEnvelope(CHAIN, 'n2', keys.mallory!.privateKey, 'sync-res', bindAnswer(new Uint8Array(32), bytes('forged')), Date.now(), 'n0').bytes);
        m.respond(stale);
      },
    });
    await nc.flush();
    await sleep(200); // let the interest cross the routes
    const drops0 = m0.drops.length;
    const res = await t0.request('n2', bytes('block 8?'), 3000);
    assert.equal(text(res.payload), 'n2 answers n0: block 8?');
    assert.deepEqual(m0.drops.slice(drops0).sort(), [P2pCode.BAD_SIGNATURE, P2pCode.MALFORMED]);
    insider.unsubscribe();
  });

  test('issue 18: a captured sync request replayed 20 times, even onto another peer\'s subject, draws one answer', T, async () => {
    const nc = await connect({ servers: cluster.urls[2]!, user: AUTH.user, pass: AUTH.pass });
    fleet.raw.push(nc);
    const served = { n1: 0, n2: 0 };
    t1.onRequest(async () => (served.n1++, bytes('n1 serves')));
    t2.onRequest(async () => (served.n2++, bytes('n2 serves')));
    let captured: Uint8Array | undefined;
    nc.subscribe(SUBJECTS.syncTo('n1'), { callback: (_e, m) => void (captured ??= new Uint8Array(m.data)) });
    await nc.flush();
    await sleep(200); // let the interest cross the routes
    assert.equal(text((await t0.request('n1', bytes('block 9?'), 3000)).payload), 'n1 serves');
    await waitFor('the captured request', () => captured !== undefined);
    const answers: string[] = [];
    const inbox = `_INBOX.mallory.${Date.now()}`;
    nc.subscribe(inbox, { callback: (_e, m) => void answers.push(parsePeerEnvelope(m.data).header.from) });
    await nc.flush();
    for (let i = 0; i < 20; i++) nc.publish(SUBJECTS.syncTo('n1'), captured!, { reply: inbox });
    for (let i = 0; i < 5; i++) nc.publish(SUBJECTS.syncTo('n2'), captured!, { reply: inbox }); // addressed to n1
    nc.publish(SUBJECTS.sync, captured!, { reply: inbox });
    await nc.flush();
    // A genuine request after the replays, on the same route: once it is answered the replays were seen.
    assert.equal(text((await t0.request('n1', bytes('block 10?'), 3000)).payload), 'n1 serves');
    await sleep(300);
    assert.deepEqual(served, { n1: 2, n2: 0 }, 'the store read and the answer signed once per genuine request');
    assert.deepEqual(answers, []);
  });

  test('issue 18: replayed heartbeats of a stopped peer do not keep it in peers()', T, async () => {
    const nc = await connect({ servers: cluster.urls[0]!, user: AUTH.user, pass: AUTH.pass });
    fleet.raw.push(nc);
    const t3 = await openPeer('n3', { servers: [cluster.urls[1]!], auth: AUTH, ignoreClusterUpdates: true });
    const beats: Uint8Array[] = [];
    nc.subscribe(SUBJECTS.status, { callback: (_e, m) => void (parsePeerEnvelope(m.data).header.from === 'n3' && beats.push(new Uint8Array(m.data))) });
    await waitFor('n3 heard by n0', () => t0.peers().includes('n3'));
    await waitFor('a few heartbeats of n3 captured', () => beats.length >= 4);
    await t3.close();
    // Replay everything n3 ever sent, again and again, for longer than peers()' 1 s window.
    const end = Date.now() + 2500;
    while (Date.now() < end) {
      for (const b of beats) nc.publish(SUBJECTS.status, b);
      await sleep(100);
    }
    // n1 and n2 keep beating; on a loaded box a beat can be late, so wait for both to be
    // heard within the window, then n3 (replayed only) must not be among them.
    await waitFor('n1 and n2 heard within 1 s', () => ['n1', 'n2'].every((p) => t0.peers(1000).includes(p)));
    assert.deepEqual(t0.peers(1000).filter((p) => p === 'n3'), []);
    assert.ok(m0.drops.includes(P2pCode.REPLAY));
  });

  test('a wrong password, or none, fails open() with E_P2P_AUTH at once', T, async () => {
    const t = Date.now();
    for (const auth of [{ user: AUTH.user, pass: 'wrong' }, undefined]) {
      await assert.rejects(
        openPeer('n3', { servers: [...cluster.urls], ...(auth ? { auth } : {}) }),
        (e: unknown) => isCode(P2pCode.AUTH)(e) && /refused our credentials/.test((e as Error).message),
      );
    }
    assert.ok(Date.now() - t < 5000, 'fails fast');
  });

  test('credentials in a server URL log in, and no log line or error shows the password', T, async () => {
    const lines: string[] = [];
    const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((l) => [l, (o: object | string, m?: string) => void lines.push(`${m ?? ''} ${JSON.stringify(o)}`)])) as unknown as PeerLayerOptions['logger'];
    const url = (u: string) => u.replace('nats://', `nats://${AUTH.user}:${encodeURIComponent(AUTH.pass)}@`);
    const t3 = await openPeer('n3', { servers: cluster.urls.map(url), logger });
    try {
      await waitFor('n3 hears the others', () => t3.peers().length === 3);
    } finally {
      await t3.close();
    }
    const err = await openPeer('n3', { servers: cluster.urls.map((u) => u.replace('nats://', `nats://${AUTH.user}:wrong-secret@`)), logger }).catch((e: unknown) => e as Error);
    assert.ok(isCode(P2pCode.AUTH)(err), String(err));
    for (const s of [...lines, String(err), String((err as Error).stack)]) {
      assert.ok(!s.includes('s3cret') && !s.includes('wrong-secret'), `a password in: ${s}`);
    }
  });

  test('a node key that is not the genesis key of its id is refused', T, async () => {
    await assert.rejects(
      openNatsPeerLayer({ servers: [...cluster.urls], name: 'test', auth: AUTH }, { chainId: CHAIN, nodeId: 'n3', nodeKey: keys.n2!.privateKey, peers: PEERS }),
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
    const k = cluster.urls.findIndex((u) => u.endsWith(`:${tA.nats.currentServer()!.split(':')[1]}`));
    assert.ok(k >= 0, `connected to one of ours (${tA.nats.currentServer()})`);
    const other = (k + 1) % 3;
    const tB = await fleet.transport('n1', { servers: [cluster.urls[other]!] });
    const [gA, gB] = [inbox(tA), inbox(tB)];
    await waitFor('peers', () => tA.peers().includes('n1') && tB.peers().includes('n0'));

    await cluster.stop(k);
    await waitFor('reconnect elsewhere', () => mA.states.includes(false) && tA.connected() && !tA.nats.currentServer()!.endsWith(`:${cluster.ports[k]}`));
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
    assert.equal(tP.nats.currentServer(), undefined);
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

describe('NATS transport opened before any server runs', () => {
  let cluster: NatsCluster;
  const fleet = new Fleet();
  before(async () => {
    cluster = await startNatsCluster({ size: 1, stopped: true });
  });
  after(async () => {
    await fleet.close();
    await cluster?.stopAll();
  });

  test('issue 18: open() returns at once, disconnected; it dials with a backoff, logs sparsely, and joins when the server starts', T, async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_o: object | string, m?: string) => void warnings.push(m ?? ''), error() {} };
    const m = recorder();
    const t = Date.now();
    const tA = await fleet.transport('n0', { servers: [cluster.urls[0]!], reconnect: { minMs: 50, maxMs: 400 }, logEveryMs: 60_000, logger, metrics: m.metrics });
    assert.ok(Date.now() - t < 5000, 'does not wait for NATS');
    assert.equal(tA.connected(), false);
    await assert.rejects(tA.request('n1', bytes('?'), 1000), isCode(P2pCode.DISCONNECTED));
    const drops0 = m.drops.length;
    tA.broadcast('tx', bytes('while nobody listens'));
    assert.deepEqual(m.drops.slice(drops0), [P2pCode.DISCONNECTED]);
    await sleep(1500); // about ten attempts at this backoff
    assert.deepEqual(warnings, ['NATS not reachable; starting without it and dialling until it answers'], 'one line, not one per attempt');
    await cluster.start(0);
    await waitFor('connected once the server runs', () => tA.connected(), 10_000);
    assert.deepEqual(m.states, [false, true]);
    const tB = await fleet.transport('n1', { servers: [cluster.urls[0]!] });
    const gA = inbox(tA);
    await broadcastUntil(tB, 'consensus', bytes('welcome'), () => gA.some((g) => g.text === 'welcome'));
    await waitFor('peers', () => tA.peers().includes('n1') && tB.peers().includes('n0'));
  });
});
