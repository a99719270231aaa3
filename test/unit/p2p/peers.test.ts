/**
 * The peer layer (ledger-node/p2p/peers.ts) over the in-memory carrier: the same seal,
 * open, liveness and request binding that run over NATS. With an eavesdropper on the
 * carrier ("mallory", no key in genesis) that captures and replays what it sees.
 */
import assert from 'node:assert/strict';
import { type KeyObject, createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Alg, parsePeerEnvelope, peerSubjects } from '../../../protocols/index.js';
import { type KeyPair, generateKeyPair } from '../../../ledger-node/keyfile.js';
import { sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { P2pCode, P2pError } from '../../../ledger-node/p2p/errors.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { type PeerClock, PeerLayer, type PeerLayerOptions } from '../../../ledger-node/p2p/peers.js';
import type { BroadcastKind, PeerKey } from '../../../ledger-node/p2p/transport.js';

const CHAIN = 'ml-test.1';
const S = peerSubjects(CHAIN);
const T0 = 1_700_000_000_000;
const tick = async (n = 3): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const isCode = (code: string) => (e: unknown) => e instanceof P2pError && e.code === code;

/** Time that moves only when told; timers fire in order as it passes them. */
class ManualClock implements PeerClock {
  t = T0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const e = { at: this.t + ms, fn, live: true };
    this.timers.push(e);
    return () => void (e.live = false);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((e) => e.live && e.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

const keys: Record<string, KeyPair> = Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, generateKeyPair(Alg.EdDSA)]));
const PEERS: PeerKey[] = Object.entries(keys).map(([id, k]) => ({ id, publicKey: k.publicKey }));

function recorder() {
  const drops: string[] = [];
  return { drops, metrics: { connected() {}, messageDropped: (r: string) => void drops.push(r) } };
}

function fleet(clock: PeerClock = new ManualClock()) {
  const net = new MemoryNetwork();
  const layer = (id: string, over: Partial<PeerLayerOptions> = {}) =>
    new PeerLayer(net.carrier(id), { chainId: CHAIN, nodeId: id, nodeKey: keys[id]!.privateKey, peers: PEERS, clock, ...over });
  return { net, layer };
}

function inbox(t: PeerLayer): { from: string; kind: BroadcastKind; payload: number[] }[] {
  const got: { from: string; kind: BroadcastKind; payload: number[] }[] = [];
  t.onMessage((from, kind, payload) => got.push({ from, kind, payload: [...payload] }));
  return got;
}

describe('peer layer over the memory carrier', () => {
  test('a broadcast reaches every other peer, signed and checked, never ourselves; heartbeats make peers() at once', async () => {
    const { layer } = fleet();
    const [a, b, c] = [layer('a'), layer('b'), layer('c')];
    const [ga, gb, gc] = [inbox(a), inbox(b), inbox(c)];
    await tick();
    assert.deepEqual(a.peers(), ['b', 'c'], 'newcomers are greeted, not left waiting a heartbeat period');
    assert.deepEqual(c.peers(), ['a', 'b']);
    a.broadcast('consensus', bytes(1, 2));
    await tick();
    assert.deepEqual(gb, [{ from: 'a', kind: 'consensus', payload: [1, 2] }]);
    assert.deepEqual(gc, [{ from: 'a', kind: 'consensus', payload: [1, 2] }]);
    assert.equal(ga.length, 0);
  });

  test('an injected envelope scheme signs and checks every envelope; a layer on the default Ed25519 refuses its signatures (E_P2P_BAD_SIGNATURE)', async () => {
    // Not a signature at all (anyone can make it): enough to show whose scheme checks what.
    const tag = (k: KeyObject, h: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update(k.asymmetricKeyType ?? '').update(h).digest());
    const tags = { sign: tag, verify: (k: KeyObject, h: Uint8Array, sig: Uint8Array) => Buffer.from(tag(k, h)).equals(sig) };
    const { layer } = fleet();
    const mc = recorder();
    const [a, b, c] = [layer('a', { envelopes: tags }), layer('b', { envelopes: tags }), layer('c', { metrics: mc.metrics })];
    const [gb, gc] = [inbox(b), inbox(c)];
    await tick();
    a.broadcast('consensus', bytes(9));
    await tick();
    assert.deepEqual(gb.map((m) => m.payload), [[9]]);
    assert.equal(gc.length, 0);
    assert.ok(mc.drops.length > 0 && mc.drops.every((d) => d === P2pCode.BAD_SIGNATURE), mc.drops.join());
  });

  test('a cut peer neither sends nor receives (its broadcasts dropped and counted) until healed; silence ages it out of peers()', async () => {
    const clock = new ManualClock();
    const { net, layer } = fleet(clock);
    const mb = recorder();
    const [a, b] = [layer('a'), layer('b', { metrics: mb.metrics })];
    const [ga, gb] = [inbox(a), inbox(b)];
    await tick();
    net.cut('b');
    assert.equal(b.connected(), false);
    a.broadcast('tx', bytes(1));
    b.broadcast('tx', bytes(2));
    assert.deepEqual(mb.drops, [P2pCode.DISCONNECTED]);
    await tick();
    assert.equal(ga.length + gb.length, 0);
    clock.advance(10_001);
    await tick();
    assert.deepEqual(a.peers(), [], 'no heartbeat from b for 10 s');
    net.heal('b');
    await tick();
    assert.equal(b.connected(), true);
    assert.deepEqual(a.peers(), ['b'], 'b says hello on reconnecting');
    a.broadcast('tx', bytes(3));
    await tick();
    assert.deepEqual(gb.map((m) => m.payload), [[3]]);
  });

  test('request to one peer, to any, and the failures: no responders, timeout, unknown, ourselves, cut, closed', async () => {
    const clock = new ManualClock();
    const { net, layer } = fleet(clock);
    const [a, b, c] = [layer('a'), layer('b'), layer('c')];
    // Subscribed but no handler yet: silence, then the timeout (as over NATS).
    const early = a.request(undefined, bytes(0), 1000);
    await tick();
    clock.advance(1000);
    await assert.rejects(early, isCode(P2pCode.TIMEOUT));
    b.onRequest(async (from, p) => bytes(...p, from.charCodeAt(0), 0xb));
    c.onRequest(() => new Promise(() => {})); // never answers
    assert.deepEqual(await a.request('b', bytes(5), 1000), { from: 'b', payload: bytes(5, 97, 0xb) });
    assert.deepEqual(await a.request(undefined, bytes(6), 1000), { from: 'b', payload: bytes(6, 97, 0xb) });
    const silent = a.request('c', bytes(0), 30);
    await tick();
    clock.advance(30);
    await assert.rejects(silent, isCode(P2pCode.TIMEOUT));
    await assert.rejects(a.request('a', bytes(0), 30), isCode(P2pCode.UNKNOWN_PEER));
    await assert.rejects(a.request('mallory', bytes(0), 30), isCode(P2pCode.UNKNOWN_PEER));
    await assert.rejects(a.request('d', bytes(0), 1000), isCode(P2pCode.NO_RESPONDERS), 'd is in genesis but not running');
    net.cut('a');
    await assert.rejects(a.request('b', bytes(0), 1000), isCode(P2pCode.DISCONNECTED));
    net.heal('a');
    const pending = a.request('c', bytes(0), 5000);
    await a.close();
    await assert.rejects(pending, isCode(P2pCode.CLOSED));
    assert.equal(a.connected(), false);
    await assert.rejects(a.request('b', bytes(0), 1000), isCode(P2pCode.CLOSED));
  });

  test('a quicker forged, unbound, foreign or misaddressed answer does not beat the genuine one', async () => {
    const { net, layer } = fleet();
    const ma = recorder();
    const [a, b] = [layer('a', { metrics: ma.metrics }), layer('b')];
    b.onRequest(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return bytes(0x0d);
    });
    const mallory = net.carrier('mallory');
    const now = T0;
    mallory.subscribe(S.syncTo('b'), (_d, reply) => {
      reply!(sealEnvelope(CHAIN, 'b', keys.c!.privateKey, 'sync-res', new Uint8Array(40), now, 'a').bytes); // forged as b
      reply!(sealEnvelope(CHAIN, 'b', keys.b!.privateKey, 'sync-res', new Uint8Array(40), now, 'a').bytes); // b's, for another request
      reply!(sealEnvelope(CHAIN, 'c', keys.c!.privateKey, 'sync-res', new Uint8Array(40), now, 'a').bytes); // c's, not asked
      reply!(sealEnvelope(CHAIN, 'b', keys.b!.privateKey, 'sync-res', new Uint8Array(40), now + 1, 'c').bytes); // for c
    });
    await tick();
    const drops0 = ma.drops.length;
    const res = await a.request('b', bytes(1), 3000);
    assert.deepEqual({ from: res.from, payload: [...res.payload] }, { from: 'b', payload: [0x0d] });
    assert.deepEqual(ma.drops.slice(drops0).sort(), [P2pCode.BAD_SIGNATURE, P2pCode.MALFORMED, P2pCode.MISADDRESSED, P2pCode.MISADDRESSED]);
  });

  test('issue 18: a captured sync request replayed 20 times draws no further answer', async () => {
    const { net, layer } = fleet();
    const mb = recorder();
    const [a, b] = [layer('a'), layer('b', { metrics: mb.metrics })];
    let served = 0;
    b.onRequest(async () => {
      served++;
      return new Uint8Array(1000);
    });
    const mallory = net.carrier('mallory');
    const captured: Uint8Array[] = [];
    mallory.subscribe(S.syncTo('b'), (d) => void captured.push(d));
    await tick();
    await a.request('b', bytes(7), 3000);
    await tick();
    assert.equal(captured.length, 1);
    const drops0 = mb.drops.length;
    let answers = 0;
    for (let i = 0; i < 20; i++) mallory.request(S.syncTo('b'), captured[0]!, () => void answers++, () => {});
    await tick(6);
    assert.equal(served, 1, 'the store was read and the answer signed once');
    assert.equal(answers, 0);
    assert.deepEqual(mb.drops.slice(drops0), Array(20).fill(P2pCode.REPLAY));
  });

  test('issue 18: replayed heartbeats of stopped peers never make them alive again', async () => {
    const clock = new ManualClock();
    const { net, layer } = fleet(clock);
    const ma = recorder();
    const a = layer('a', { metrics: ma.metrics });
    const [b, c] = [layer('b'), layer('c')];
    const mallory = net.carrier('mallory');
    const heard: Uint8Array[] = [];
    mallory.subscribe(S.status, (d) => {
      if (parsePeerEnvelope(d).header.from !== 'a') heard.push(d);
    });
    await tick();
    for (let i = 0; i < 5; i++) {
      clock.advance(2000);
      await tick();
    }
    assert.deepEqual(a.peers(), ['b', 'c']);
    await b.close();
    await c.close();
    const theirs = heard.slice(-4);
    // Replayed at once: each was already taken.
    const drops0 = ma.drops.length;
    for (const h of theirs) mallory.publish(S.status, h);
    await tick();
    assert.deepEqual(ma.drops.slice(drops0), Array(theirs.length).fill(P2pCode.REPLAY));
    clock.advance(10_001);
    await tick();
    assert.deepEqual(a.peers(), [], 'silent for 10 s');
    // Every heartbeat they ever sent, replayed every 5 s for a minute: taken already, then too old.
    for (let s = 0; s < 12; s++) {
      for (const h of heard) mallory.publish(S.status, h);
      await tick();
      assert.deepEqual(a.peers(), [], `after ${s * 5} s of replays`);
      clock.advance(5000);
    }
    const reasons = new Set(ma.drops.slice(drops0));
    assert.deepEqual([...reasons].sort(), [P2pCode.REPLAY, P2pCode.STALE]);
  });

  test('a peer whose clock is off by more than the window is not heard; within it, it is', async () => {
    const clock = new ManualClock();
    const { net } = fleet(clock);
    const mk = (id: string, offset: number, metrics?: ReturnType<typeof recorder>['metrics']) => new PeerLayer(net.carrier(id), {
      chainId: CHAIN, nodeId: id, nodeKey: keys[id]!.privateKey, peers: PEERS, windowMs: 5000,
      clock: { now: () => clock.now() + offset, after: (ms, fn) => clock.after(ms, fn) }, ...(metrics ? { metrics } : {}),
    });
    const ma = recorder();
    const a = mk('a', 0, ma.metrics);
    mk('b', 4000);
    mk('c', -5001);
    await tick();
    assert.deepEqual(a.peers(), ['b']);
    assert.ok(ma.drops.includes(P2pCode.STALE));
  });

  test('garbage on every subject is dropped and counted; a genuine envelope after it still arrives', async () => {
    const { net, layer } = fleet();
    const ma = recorder();
    const a = layer('a', { metrics: ma.metrics });
    a.onRequest(async () => bytes(1));
    const ga = inbox(a);
    await tick();
    const mallory = net.carrier('mallory');
    const junk = [new Uint8Array(0), bytes(0x9a, 0, 0x40, 0, 0, 0xa0, 0xa0), new Uint8Array(100_000).fill(0xa0)];
    const drops0 = ma.drops.length;
    for (const subject of [S.consensus, S.tx, S.status, S.sync, S.syncTo('a')]) {
      for (const j of junk) {
        if (subject.includes('.sync')) mallory.request(subject, j, () => assert.fail('no answer to junk'), () => {});
        else mallory.publish(subject, j);
      }
    }
    await tick();
    assert.deepEqual(ma.drops.slice(drops0), Array(15).fill(P2pCode.MALFORMED));
    const b = layer('b');
    b.broadcast('tx', bytes(9));
    await tick();
    assert.deepEqual(ga, [{ from: 'b', kind: 'tx', payload: [9] }]);
  });
});
