import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Alg, decodeCbor, encodeCbor } from '../../../protocols/index.js';
import { nativeSign } from '../../../ledger-node/crypto/native.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import {
  ENVELOPE_DOMAIN,
  MAX_ENVELOPE_BYTES,
  P2pCode,
  P2pError,
  openEnvelope,
  peerKeyObjects,
  sealEnvelope,
} from '../../../ledger-node/p2p/envelope.js';

const CHAIN = 'ml-test.1';
const alice = generateKeyPair(Alg.EdDSA);
const bob = generateKeyPair(Alg.EdDSA);
const mallory = generateKeyPair(Alg.EdDSA);
const peers = peerKeyObjects([
  { id: 'alice', publicKey: alice.publicKey },
  { id: 'bob', publicKey: bob.publicKey },
]);
const payload = new Uint8Array([1, 2, 3, 250]);

const rejectsWith = (code: P2pCode, fn: () => unknown): void => {
  assert.throws(fn, (e: unknown) => e instanceof P2pError && e.code === code && e.message.startsWith(code));
};

/** Re-sign a hand-made body with `key`, to build envelopes seal would refuse to make. */
const signed = (body: unknown[], key = alice.privateKey): Uint8Array => {
  const b = encodeCbor(body);
  return encodeCbor([b, nativeSign(Alg.EdDSA, key, b)]);
};

describe('p2p envelope', () => {
  test('seal then open returns sender, kind, payload and time', () => {
    for (const kind of ['consensus', 'tx', 'sync-req', 'sync-res', 'status'] as const) {
      const env = sealEnvelope(CHAIN, 'alice', alice.privateKey, kind, payload, 1_700_000_000_123);
      const opened = openEnvelope(env, CHAIN, peers);
      assert.deepEqual(opened, { from: 'alice', kind, payload, timeMs: 1_700_000_000_123 });
    }
  });

  test('the envelope is deterministic CBOR [body, sig] with the domain string first (RFC 8949 §4.2.1)', () => {
    const env = sealEnvelope(CHAIN, 'bob', bob.privateKey, 'tx', payload, 5);
    const a = sealEnvelope(CHAIN, 'bob', bob.privateKey, 'tx', payload, 5);
    assert.deepEqual(env, a); // Ed25519 is deterministic (RFC 8032 §5.1.6)
    const [body, sig] = decodeCbor(env) as [Uint8Array, Uint8Array];
    assert.equal(sig.length, 64);
    assert.deepEqual(decodeCbor(body), [ENVELOPE_DOMAIN, CHAIN, 'bob', 'tx', payload, 5]);
  });

  test('the opened payload is a copy the caller owns', () => {
    const env = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, 1);
    const opened = openEnvelope(env, CHAIN, peers);
    opened.payload[0] = 99;
    assert.deepEqual(openEnvelope(env, CHAIN, peers).payload, payload);
  });

  test('a tampered body fails with E_P2P_BAD_SIGNATURE', () => {
    const env = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'tx', payload, 1);
    const [body, sig] = decodeCbor(env) as [Uint8Array, Uint8Array];
    const inner = decodeCbor(body) as unknown[];
    inner[4] = new Uint8Array([9, 9, 9]);
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(encodeCbor([encodeCbor(inner), sig]), CHAIN, peers));
    // One flipped bit in the signature as well.
    const bad = new Uint8Array(sig);
    bad[10]! ^= 1;
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(encodeCbor([body, bad]), CHAIN, peers));
  });

  test('claiming to be a peer with another key fails with E_P2P_BAD_SIGNATURE', () => {
    const env = sealEnvelope(CHAIN, 'bob', mallory.privateKey, 'consensus', payload, 1);
    rejectsWith(P2pCode.BAD_SIGNATURE, () => openEnvelope(env, CHAIN, peers));
  });

  test('a sender outside genesis fails with E_P2P_UNKNOWN_PEER', () => {
    const env = sealEnvelope(CHAIN, 'mallory', mallory.privateKey, 'consensus', payload, 1);
    rejectsWith(P2pCode.UNKNOWN_PEER, () => openEnvelope(env, CHAIN, peers));
  });

  test('an envelope of another chain fails with E_P2P_WRONG_CHAIN', () => {
    const env = sealEnvelope('other-chain', 'alice', alice.privateKey, 'consensus', payload, 1);
    rejectsWith(P2pCode.WRONG_CHAIN, () => openEnvelope(env, CHAIN, peers));
  });

  test('garbage and wrong shapes fail with E_P2P_MALFORMED', () => {
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['random bytes', new Uint8Array([0xff, 0x00, 0x13, 0x37])],
      ['not an array', encodeCbor('hello')],
      ['array of 3', encodeCbor([new Uint8Array(1), new Uint8Array(64), 1])],
      ['short signature', encodeCbor([encodeCbor([ENVELOPE_DOMAIN]), new Uint8Array(63)])],
      ['body not CBOR', encodeCbor([new Uint8Array([0xff]), new Uint8Array(64)])],
      ['non-canonical outer (1-byte int as 2 bytes)', new Uint8Array([0x82, 0x41, 0x00, 0x58, 0x40, ...new Uint8Array(64)])],
      ['wrong domain', signed(['meterledger/p2p/v0', CHAIN, 'alice', 'tx', payload, 1])],
      ['unknown kind', signed([ENVELOPE_DOMAIN, CHAIN, 'alice', 'gossip', payload, 1])],
      ['payload as text', signed([ENVELOPE_DOMAIN, CHAIN, 'alice', 'tx', 'abc', 1])],
      ['negative time', signed([ENVELOPE_DOMAIN, CHAIN, 'alice', 'tx', payload, -1])],
      ['body of 5', signed([ENVELOPE_DOMAIN, CHAIN, 'alice', 'tx', payload])],
    ];
    for (const [name, bytes] of cases) {
      assert.throws(
        () => openEnvelope(bytes, CHAIN, peers),
        (e: unknown) => e instanceof P2pError && e.code === P2pCode.MALFORMED,
        name,
      );
    }
  });

  test('envelopes past the size limit are refused both ways with E_P2P_TOO_LARGE', () => {
    const big = new Uint8Array(MAX_ENVELOPE_BYTES);
    rejectsWith(P2pCode.TOO_LARGE, () => sealEnvelope(CHAIN, 'alice', alice.privateKey, 'consensus', big, 1));
    rejectsWith(P2pCode.TOO_LARGE, () => openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), CHAIN, peers));
    // Just under the limit passes.
    const env = sealEnvelope(CHAIN, 'alice', alice.privateKey, 'consensus', new Uint8Array(MAX_ENVELOPE_BYTES - 200), 1);
    assert.equal(openEnvelope(env, CHAIN, peers).payload.length, MAX_ENVELOPE_BYTES - 200);
  });

  test('peer keys: duplicates and non-Ed25519 keys are configuration errors', () => {
    rejectsWith(P2pCode.CONFIG, () => peerKeyObjects([{ id: 'a', publicKey: alice.publicKey }, { id: 'a', publicKey: bob.publicKey }]));
    rejectsWith(P2pCode.CONFIG, () => peerKeyObjects([{ id: 'a', publicKey: new Uint8Array(31) }]));
  });

  test('seal refuses a P-256 key and a bad chain id', () => {
    const p256 = generateKeyPair(Alg.ES256);
    assert.throws(() => sealEnvelope(CHAIN, 'alice', p256.privateKey, 'tx', payload, 1), TypeError);
    assert.throws(() => sealEnvelope('Bad Chain', 'alice', alice.privateKey, 'tx', payload, 1), TypeError);
  });
});
