import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { P2pCode, P2pError } from '../../../ledger-node/p2p/envelope.js';
import type { BroadcastKind, Transport } from '../../../ledger-node/p2p/transport.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function inbox(t: Transport): { from: string; kind: BroadcastKind; payload: Uint8Array }[] {
  const got: { from: string; kind: BroadcastKind; payload: Uint8Array }[] = [];
  t.onMessage((from, kind, payload) => got.push({ from, kind, payload }));
  return got;
}

const isCode = (code: string) => (e: unknown) => e instanceof P2pError && e.code === code;

describe('memory transport', () => {
  test('a broadcast reaches every other node, asynchronously, as a copy', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = [net.transport('a'), net.transport('b'), net.transport('c')];
    const [ga, gb, gc] = [inbox(a), inbox(b), inbox(c)];
    const p = bytes(1, 2);
    a.broadcast('consensus', p);
    assert.equal(gb.length, 0, 'not delivered synchronously');
    p[0] = 7;
    await tick();
    assert.deepEqual(gb, [{ from: 'a', kind: 'consensus', payload: bytes(1, 2) }]);
    assert.deepEqual(gc, [{ from: 'a', kind: 'consensus', payload: bytes(1, 2) }]);
    assert.equal(ga.length, 0, 'never to ourselves');
    assert.deepEqual(a.peers(), ['b', 'c']);
  });

  test('a cut node neither sends nor receives, and reports disconnected, until healed', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [net.transport('a'), net.transport('b')];
    const gb = inbox(b);
    const ga = inbox(a);
    net.cut('b');
    assert.equal(b.connected(), false);
    assert.deepEqual(a.peers(), []);
    a.broadcast('tx', bytes(1));
    b.broadcast('tx', bytes(2));
    await tick();
    assert.equal(gb.length + ga.length, 0);
    net.heal('b');
    assert.equal(b.connected(), true);
    a.broadcast('tx', bytes(3));
    await tick();
    assert.deepEqual(gb.map((m) => m.payload), [bytes(3)]);
  });

  test('a message in flight when the link is cut is lost', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [net.transport('a'), net.transport('b')];
    const gb = inbox(b);
    a.broadcast('tx', bytes(1));
    net.cut('a');
    await tick();
    assert.equal(gb.length, 0);
  });

  test('request to one peer, to any peer, and the failures: no responders, timeout, cut, closed', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = [net.transport('a'), net.transport('b'), net.transport('c')];
    await assert.rejects(a.request(undefined, bytes(0), 1000), isCode(P2pCode.NO_RESPONDERS));
    b.onRequest(async (from, p) => bytes(...p, from.charCodeAt(0), 0xb));
    c.onRequest(() => new Promise(() => {})); // never answers
    assert.deepEqual(await a.request('b', bytes(5), 1000), { from: 'b', payload: bytes(5, 97, 0xb) });
    assert.deepEqual(await a.request(undefined, bytes(6), 1000), { from: 'b', payload: bytes(6, 97, 0xb) });
    await assert.rejects(a.request('c', bytes(0), 30), isCode(P2pCode.TIMEOUT));
    await assert.rejects(a.request('a', bytes(0), 30), isCode(P2pCode.UNKNOWN_PEER));
    net.cut('a');
    await assert.rejects(a.request('b', bytes(0), 1000), isCode(P2pCode.DISCONNECTED));
    net.heal('a');
    const pending = a.request('c', bytes(0), 5000);
    await a.close();
    await assert.rejects(pending, isCode(P2pCode.CLOSED));
    assert.equal(a.connected(), false);
    assert.deepEqual(b.peers(), ['c']);
    // The id can be used again, like a restarted node.
    const a2 = net.transport('a');
    assert.deepEqual(b.peers(), ['a', 'c']);
    await a2.close();
  });

  test('a throwing handler does not stop delivery to others', async () => {
    const net = new MemoryNetwork({ delayMs: 5 });
    const [a, b] = [net.transport('a'), net.transport('b')];
    b.onMessage(() => {
      throw new Error('boom');
    });
    const gb = inbox(b);
    a.broadcast('consensus', bytes(1));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(gb.length, 1);
  });
});
