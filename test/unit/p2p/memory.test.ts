/**
 * The in-memory carrier (ledger-node/p2p/memory.ts) behaves like NATS core where the
 * peer layer can tell: asynchronous delivery of copies, no echo, no responders known at
 * once, a cut link losing what is in flight and refusing to send.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Carrier } from '../../../ledger-node/p2p/carrier.js';
import { P2pCode, P2pError } from '../../../ledger-node/p2p/errors.js';
import { type MemoryHop, MemoryNetwork } from '../../../ledger-node/p2p/memory.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const isCode = (code: string) => (e: unknown) => e instanceof P2pError && e.code === code;

function inbox(c: Carrier, subject: string): Uint8Array[] {
  const got: Uint8Array[] = [];
  c.subscribe(subject, (d) => got.push(d));
  return got;
}

describe('memory carrier', () => {
  test('a publish reaches every other subscriber of the subject, asynchronously, as a copy; never ourselves', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = [net.carrier('a'), net.carrier('b'), net.carrier('c')];
    const [ga, gb, gc] = [inbox(a, 's'), inbox(b, 's'), inbox(c, 'other')];
    const p = bytes(1, 2);
    a.publish('s', p);
    assert.equal(gb.length, 0, 'not delivered synchronously');
    p[0] = 7;
    await tick();
    assert.deepEqual(gb, [bytes(1, 2)]);
    assert.equal(gc.length, 0, 'another subject');
    assert.equal(ga.length, 0, 'never to ourselves');
  });

  test('a cut node neither sends nor receives, throws E_P2P_DISCONNECTED, and reports it, until healed', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [net.carrier('a'), net.carrier('b')];
    const [ga, gb] = [inbox(a, 's'), inbox(b, 's')];
    const states: boolean[] = [];
    b.onConnectionChange((up) => states.push(up));
    net.cut('b');
    assert.equal(b.connected(), false);
    assert.throws(() => b.publish('s', bytes(2)), isCode(P2pCode.DISCONNECTED));
    a.publish('s', bytes(1));
    await tick();
    assert.equal(gb.length + ga.length, 0);
    net.heal('b');
    assert.equal(b.connected(), true);
    a.publish('s', bytes(3));
    await tick();
    assert.deepEqual(gb, [bytes(3)]);
    assert.deepEqual(states, [false, true]);
  });

  test('a message in flight when the link is cut is lost', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [net.carrier('a'), net.carrier('b')];
    const gb = inbox(b, 's');
    a.publish('s', bytes(1));
    net.cut('a');
    await tick();
    assert.equal(gb.length, 0);
  });

  test('request: every answer reaches the requester until it ends; nobody listening is known at once; closed carriers refuse', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = [net.carrier('a'), net.carrier('b'), net.carrier('c')];
    b.subscribe('q', (d, reply) => reply!(bytes(...d, 0xb)));
    c.subscribe('q', (d, reply) => reply!(bytes(...d, 0xc)));
    const answers: Uint8Array[] = [];
    const end = a.request('q', bytes(5), (d) => answers.push(d), () => assert.fail('there are responders'));
    await tick();
    await tick();
    assert.deepEqual(answers.map((x) => [...x]).sort(), [[5, 0xb], [5, 0xc]]);
    end();
    let none = false;
    a.request('nobody', bytes(0), () => assert.fail('no answer'), () => (none = true));
    await tick();
    assert.equal(none, true);
    await a.close();
    assert.equal(a.connected(), false);
    assert.throws(() => a.request('q', bytes(0), () => {}, () => {}), isCode(P2pCode.CLOSED));
    // The id can be used again, like a restarted node.
    const a2 = net.carrier('a');
    assert.equal(a2.connected(), true);
  });

  test('an injected schedule sees every hop (sender, receiver, subject, kind, bytes) and may drop, delay or repeat it', async () => {
    const hops: MemoryHop[] = [];
    const queued: (() => void)[] = [];
    const net = new MemoryNetwork({
      schedule: (deliver, hop) => {
        if (hop) hops.push({ ...hop, data: new Uint8Array(hop.data) });
        if (hop?.to === 'c') return; // dropped
        queued.push(deliver);
        if (hop?.kind === 'publish') queued.push(deliver); // duplicated
      },
    });
    const [a, b, c] = [net.carrier('a'), net.carrier('b'), net.carrier('c')];
    const [gb, gc] = [inbox(b, 's'), inbox(c, 's')];
    b.subscribe('q', (d, reply) => reply!(bytes(...d, 0xb)));
    a.publish('s', bytes(1));
    const answers: Uint8Array[] = [];
    a.request('q', bytes(2), (d) => answers.push(d), () => assert.fail('b listens'));
    assert.equal(gb.length, 0, 'nothing before the schedule delivers');
    while (queued.length) queued.shift()!();
    assert.deepEqual(gb, [bytes(1), bytes(1)]);
    assert.equal(gc.length, 0);
    assert.deepEqual(answers, [bytes(2, 0xb)]);
    assert.deepEqual(hops.map((h) => [h.from, h.to, h.subject, h.kind, [...h.data]]), [
      ['a', 'b', 's', 'publish', [1]], ['a', 'c', 's', 'publish', [1]], ['a', 'b', 'q', 'request', [2]], ['b', 'a', 'q', 'answer', [2, 0xb]],
    ]);
    await c.close();
  });

  test('a throwing handler does not stop delivery to others', async () => {
    const net = new MemoryNetwork({ delayMs: 5 });
    const [a, b] = [net.carrier('a'), net.carrier('b')];
    b.subscribe('s', () => {
      throw new Error('boom');
    });
    const gb = inbox(b, 's');
    a.publish('s', bytes(1));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(gb.length, 1);
  });
});
