/**
 * Peer envelopes (docs/protocol.md §12): the frame as specified, and openEnvelope's checks
 * with their codes, cheapest first, the payload untouched until the header is authentic.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Alg, PEER_ENVELOPE_DOMAIN, encodeCbor, encodePeerHeader, parsePeerEnvelope, verifySignature } from '../../../protocols/index.js';
import { nativeSign } from '../../../ledger-node/crypto/native.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { MAX_ENVELOPE_BYTES, type OpenContext, openEnvelope, peerKeyObjects, sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { P2pCode, P2pError } from '../../../ledger-node/p2p/errors.js';
import { ReplayGuard } from '../../../ledger-node/p2p/replay.js';

const CHAIN = 'ml-test.1';
const T = 1_700_000_000_123;
const alice = generateKeyPair(Alg.EdDSA);
const bob = generateKeyPair(Alg.EdDSA);
const mallory = generateKeyPair(Alg.EdDSA);
// We are "me"; alice and bob are the other peers of genesis.
const peers = peerKeyObjects([
  { id: 'alice', publicKey: alice.publicKey },
  { id: 'bob', publicKey: bob.publicKey },
]);
const payload = new Uint8Array([1, 2, 3, 250]);
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

const ctx = (now = T, replay = new ReplayGuard(30_000, 100)): OpenContext => ({ chainId: CHAIN, nodeId: 'me', peers, now, replay });

const rejectsWith = (code: P2pCode, fn: () => unknown, name?: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof P2pError && e.code === code && e.message.length > 0 && !e.message.startsWith(code), name);
};

/** An envelope built by hand, for what seal refuses to make. */
function forge(over: Partial<Parameters<typeof encodePeerHeader>[0]> = {}, body = payload, key = alice.privateKey): Uint8Array {
  const header = encodePeerHeader({ kind: 'tx', timeMs: T, payloadLength: body.length, payloadDigest: sha256(body), chainId: CHAIN, from: 'alice', to: '', ...over });
  return Uint8Array.from([...header, ...nativeSign(Alg.EdDSA, key, header), ...body]);
}

describe('p2p envelope', () => {
  test('seal then open returns sender, kind, addressee, payload and time, for every kind', () => {
    const cases = [['consensus', ''], ['tx', ''], ['status', ''], ['sync-req', ''], ['sync-req', 'me'], ['sync-res', 'me']] as const;
    for (const [kind, to] of cases) {
      const sealed = sealEnvelope(CHAIN, 'alice', alice.privateKey, kind, payload, T, to);
      const opened = openEnvelope(sealed.bytes, ctx(), kind);
      assert.deepEqual({ ...opened, payload: [...opened.payload] }, { from: 'alice', kind, to, timeMs: T, payload: [...payload], id: sealed.id });
    }
  });

  test('§12.1 layout: domain, kind byte, time and length big-endian, payload digest, ids, signature over the header, payload last', () => {
    const { bytes, id } = sealEnvelope(CHAIN, 'bob', bob.privateKey, 'sync-res', payload, 0x0102_0304_0506, 'me');
    assert.deepEqual(bytes, sealEnvelope(CHAIN, 'bob', bob.privateKey, 'sync-res', payload, 0x0102_0304_0506, 'me').bytes); // RFC 8032 §5.1.6
    const hex = Buffer.from(bytes).toString('hex');
    const dom = Buffer.from(PEER_ENVELOPE_DOMAIN).toString('hex');
    const digest = Buffer.from(sha256(payload)).toString('hex');
    const ids = '09' + Buffer.from(CHAIN).toString('hex') + '03' + Buffer.from('bob').toString('hex') + '02' + Buffer.from('me').toString('hex');
    const header = dom + '05' + '0000010203040506' + '00000004' + digest + ids;
    assert.equal(hex.slice(0, header.length), header);
    const sig = bytes.subarray(header.length / 2, header.length / 2 + 64);
    assert.ok(verifySignature(Alg.EdDSA, bob.publicKey, bytes.subarray(0, header.length / 2), sig), 'Ed25519 over exactly the header');
    assert.deepEqual(bytes.subarray(header.length / 2 + 64), payload);
    assert.equal(bytes.length, header.length / 2 + 64 + payload.length);
    assert.deepEqual(id, sha256(bytes.subarray(0, header.length / 2)));
  });

  test('the opened payload is a copy the caller owns', () => {
    const { bytes } = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, T);
    const opened = openEnvelope(bytes, ctx(), 'tx');
    opened.payload[0] = 99;
    assert.equal(bytes[bytes.length - 4], 1);
  });

  test('a tampered header, signature or payload is refused: E_P2P_BAD_SIGNATURE, or E_P2P_MALFORMED for a payload off its digest', () => {
    const { bytes } = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, T);
    const headerLen = bytes.length - 64 - payload.length;
    const flip = (i: number): Uint8Array => {
      const b = new Uint8Array(bytes);
      b[i]! ^= 0x01;
      return b;
    };
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(flip(PEER_ENVELOPE_DOMAIN.length + 8), ctx(), 'tx'), 'a bit of timeMs');
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(flip(PEER_ENVELOPE_DOMAIN.length + 20), ctx(), 'tx'), 'a bit of the digest');
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(flip(headerLen + 10), ctx(), 'tx'), 'a bit of the signature');
    rejectsWith(P2pCode.MALFORMED, () => openEnvelope(flip(bytes.length - 1), ctx(), 'tx'), 'a bit of the payload');
  });

  test('claiming to be a peer with another key: E_P2P_BAD_SIGNATURE; outside genesis or in our own name: E_P2P_UNKNOWN_PEER', () => {
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(sealEnvelope(CHAIN, 'bob', mallory.privateKey, 'consensus', payload, T).bytes, ctx(), 'consensus'));
    rejectsWith(P2pCode.UNKNOWN_PEER, () => openEnvelope(sealEnvelope(CHAIN, 'mallory', mallory.privateKey, 'consensus', payload, T).bytes, ctx(), 'consensus'));
    rejectsWith(P2pCode.UNKNOWN_PEER, () => openEnvelope(sealEnvelope(CHAIN, 'me', mallory.privateKey, 'consensus', payload, T).bytes, ctx(), 'consensus'));
  });

  test('another chain: E_P2P_WRONG_CHAIN', () => {
    rejectsWith(P2pCode.WRONG_CHAIN, () => openEnvelope(sealEnvelope('other-chain', 'alice', alice.privateKey, 'consensus', payload, T).bytes, ctx(), 'consensus'));
  });

  test('misaddressed: E_P2P_MISADDRESSED for a kind off its subject, a broadcast with an addressee, a request or answer for another peer', () => {
    const seal = (kind: Parameters<typeof sealEnvelope>[3], to = '') => sealEnvelope(CHAIN, 'alice', alice.privateKey, kind, payload, T, to).bytes;
    rejectsWith(P2pCode.MISADDRESSED, () => openEnvelope(seal('tx'), ctx(), 'consensus'), 'tx on the consensus subject');
    rejectsWith(P2pCode.MISADDRESSED, () => openEnvelope(seal('consensus', 'me'), ctx(), 'consensus'), 'a broadcast for one peer');
    rejectsWith(P2pCode.MISADDRESSED, () => openEnvelope(seal('sync-req', 'bob'), ctx(), 'sync-req'), 'a request for bob');
    rejectsWith(P2pCode.MISADDRESSED, () => openEnvelope(seal('sync-res', 'bob'), ctx(), 'sync-res'), 'an answer for bob');
    rejectsWith(P2pCode.MISADDRESSED, () => openEnvelope(seal('sync-res'), ctx(), 'sync-res'), 'an answer for everyone');
  });

  test('§12.3 time: more than the window from our clock, either way, is E_P2P_STALE; within it passes', () => {
    const at = (t: number) => sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, t).bytes;
    rejectsWith(P2pCode.STALE, () => openEnvelope(at(T - 30_001), ctx(), 'tx'));
    rejectsWith(P2pCode.STALE, () => openEnvelope(at(T + 30_001), ctx(), 'tx'));
    assert.equal(openEnvelope(at(T - 30_000), ctx(), 'tx').from, 'alice');
    assert.equal(openEnvelope(at(T + 30_000), ctx(), 'tx').from, 'alice');
    rejectsWith(P2pCode.STALE, () => openEnvelope(at(1), ctx(), 'tx'), 'a heartbeat from 1970');
  });

  test('§12.3 replay: an envelope taken once is E_P2P_REPLAY after; a refused one was not remembered', () => {
    const replay = new ReplayGuard(30_000, 100);
    const { bytes } = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'sync-req', payload, T);
    assert.equal(openEnvelope(bytes, ctx(T, replay), 'sync-req').from, 'alice');
    rejectsWith(P2pCode.REPLAY, () => openEnvelope(bytes, ctx(T + 5000, replay), 'sync-req'));
    rejectsWith(P2pCode.REPLAY, () => openEnvelope(new Uint8Array(bytes), ctx(T + 5000, replay), 'sync-req'), 'a copy is the same envelope');
    // A copy with its payload spoiled (refused) must not block the genuine one arriving later.
    const other = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, T + 1).bytes;
    const spoiled = new Uint8Array(other);
    spoiled[spoiled.length - 1]! ^= 1;
    rejectsWith(P2pCode.MALFORMED, () => openEnvelope(spoiled, ctx(T, replay), 'tx'));
    assert.equal(openEnvelope(other, ctx(T, replay), 'tx').from, 'alice');
  });

  test('the payload is looked at last: a bad signature wins over a payload off its digest; the sender over the signature', () => {
    const spoiled = forge({}, payload, mallory.privateKey);
    spoiled[spoiled.length - 1]! ^= 1;
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(spoiled, ctx(), 'tx'));
    rejectsWith(P2pCode.UNKNOWN_PEER, () => openEnvelope(forge({ from: 'mallory' }, payload, mallory.privateKey), ctx(), 'tx'));
  });

  test('garbage, the old v1 envelope and the issue-18 attack are E_P2P_MALFORMED on their first bytes', () => {
    const n = 4 * 1024 * 1024;
    const emptyMaps = new Uint8Array(5 + n).fill(0xa0);
    emptyMaps.set([0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const good = forge();
    const headerLen = good.length - 64 - payload.length;
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['random bytes', Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff)],
      ['a v1 envelope (CBOR [body, signature])', encodeCbor([encodeCbor(['meterledger/p2p/v1', CHAIN, 'alice', 'tx', payload, T]), new Uint8Array(64)])],
      ['4 MiB CBOR array of empty maps', emptyMaps],
      ['another domain', Uint8Array.from([...Buffer.from('meterledger/p2p/v3'), ...good.subarray(PEER_ENVELOPE_DOMAIN.length)])],
      ['kind 0', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length] = 0; return b; })()],
      ['kind 6', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length] = 6; return b; })()],
      ['time above 2^53 - 1', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length + 1] = 0x00; b[PEER_ENVELOPE_DOMAIN.length + 2] = 0x20; return b; })()],
      ['one byte short', good.subarray(0, good.length - 1)],
      ['one byte more', Uint8Array.from([...good, 0])],
      ['payload length past the end', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length + 9] = 0x7f; return b; })()],
      ['chain id length 0', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length + 45] = 0; return b; })()],
      ['chain id length 200', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length + 45] = 200; return b; })()],
      ['a sender id with a space', (() => { const b = new Uint8Array(good); b[PEER_ENVELOPE_DOMAIN.length + 45 + 1 + CHAIN.length + 2] = 0x20; return b; })()],
      ['a header and no signature', good.subarray(0, headerLen)],
    ];
    for (const [name, bytes] of cases) rejectsWith(P2pCode.MALFORMED, () => openEnvelope(bytes, ctx(), 'tx'), name);
  });

  test('envelopes past the size limit are refused both ways with E_P2P_TOO_LARGE; just under it passes', () => {
    rejectsWith(P2pCode.TOO_LARGE, () => sealEnvelope(CHAIN, 'alice', alice.privateKey, 'consensus', new Uint8Array(MAX_ENVELOPE_BYTES), T));
    rejectsWith(P2pCode.TOO_LARGE, () => openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), ctx(), 'consensus'));
    const { bytes } = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'consensus', new Uint8Array(MAX_ENVELOPE_BYTES - 200), T);
    assert.equal(openEnvelope(bytes, ctx(), 'consensus').payload.length, MAX_ENVELOPE_BYTES - 200);
  });

  test('parse reads only the frame: the payload of a parsed envelope is a view, not a copy', () => {
    const { bytes } = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, T);
    const p = parsePeerEnvelope(bytes);
    assert.equal(p.payload.buffer, bytes.buffer);
    assert.equal(p.header.payloadLength, payload.length);
  });

  test('peer keys: duplicates and non-Ed25519 keys are configuration errors', () => {
    rejectsWith(P2pCode.CONFIG, () => peerKeyObjects([{ id: 'a', publicKey: alice.publicKey }, { id: 'a', publicKey: bob.publicKey }]));
    rejectsWith(P2pCode.CONFIG, () => peerKeyObjects([{ id: 'a', publicKey: new Uint8Array(31) }]));
  });

  test('seal refuses a P-256 key, a bad chain id, a bad addressee and a negative time', () => {
    const p256 = generateKeyPair(Alg.ES256);
    assert.throws(() => sealEnvelope(CHAIN, 'alice', p256.privateKey, 'tx', payload, T), TypeError);
    assert.throws(() => sealEnvelope('Bad Chain', 'alice', alice.privateKey, 'tx', payload, T), TypeError);
    assert.throws(() => sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, T, 'no spaces'), TypeError);
    assert.throws(() => sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, -1), TypeError);
  });
});
