/**
 * Test vectors of the meterledger protocol (docs/protocol.md), built from fixed secret
 * keys so every byte is reproducible: Ed25519 is deterministic (RFC 8032 §5.1.6) and so is
 * ES256 as noble signs it (RFC 6979, no extra entropy).
 *
 *   npx tsc -p . && node dist/test/vectors/generate.js
 *
 * writes test/vectors/*.json in the source tree. test/vectors/vectors.test.ts
 * rebuilds them and compares, so a change to any encoding fails a test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Alg, AlgName, type BlockHeader, type CommitCertificate, type Receipt, ReasonCode, TAG_COSE_SIGN1, Tagged, TxType, type TxBody, decodeCoseSign1,
  type Reading, allInclusionProofs, concatBytes, connectTokenSignBytes, encodeBlock, encodeCbor, encodeCommit,
  encodeCoseSign1, encodeHeader, encodeProtectedHeader, encodeReceipt, encodeReceiptRequest, encodeReceiptsTopicMessage, encodeTxBody,
  Kem, kemPublicKey, genesisHash, headerHash, makeConnectToken, makeHeader, merkleRoot, parseGenesis, publicKeyOf, p256Uncompressed, commitToCbor, receiptToCbor,
  sha256, sigStructure, signMessage, signTx, toHex, utf8, voteSignBytes, VoteType,
  PEER_ENVELOPE_DOMAIN, type PeerKind, bindAnswer, encodePeerHeader, joinPeerEnvelope, peerEnvelopeId, peerSubjects,
} from '../../protocols/index.js';
import { CONF_METER, RECIPIENTS, buildConfidential, meterSecret, recipientKey } from './confidential.js';
import { CHAIN_ID, seed } from './fixed.js';
import { buildBilling } from './billing.js';
import { buildBillingLedger } from './billing-ledger.js';
import { buildBillBundle } from './bill-bundle.js';
import { buildValidatorSet } from './validator-set.js';
import { buildPeerMessages } from './peer-messages.js';

/** The source-tree folder of the vectors (this file runs from dist/test/vectors/). */
export const VECTORS_DIR = fileURLToPath(new URL('../../../test/vectors/', import.meta.url));

export { CHAIN_ID, seed };
/** Order n of the P-256 group (SEC 2 §2.4.2), to make a high-S twin of a signature. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;


const hex = toHex;
const u64 = (b: Uint8Array): bigint => BigInt(`0x${hex(b) || '0'}`);
const be32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};

/** Same ES256 signature with s replaced by n - s: valid under SEC1, "high-S". */
export function highS(sig: Uint8Array): Uint8Array {
  const s = u64(sig.subarray(32));
  return concatBytes(sig.subarray(0, 32), be32(P256_N - s));
}

// ---------------------------------------------------------------------------------- readings

interface ReadingCase {
  name: string;
  alg: Alg;
  keyLabel: string;
  compressed: boolean;
  reading: Omit<Reading, 'type'>;
  highS?: boolean;
}

const READING_CASES: ReadingCase[] = [
  { name: 'Ed25519, required fields only', alg: Alg.EdDSA, keyLabel: 'meter-ed-0001', compressed: true,
    reading: { meterId: 'meter-ed-0001', seq: 1n, time: 1_700_000_000_000, importWh: 123_456 } },
  { name: 'Ed25519, exportWh and negative powerW', alg: Alg.EdDSA, keyLabel: 'meter-ed-0001', compressed: true,
    reading: { meterId: 'meter-ed-0001', seq: 2n, time: 1_700_000_900_000, importWh: 123_789, exportWh: 4_321, powerW: -1_500 } },
  { name: 'Ed25519, seq above 2^53', alg: Alg.EdDSA, keyLabel: 'meter-ed-0002', compressed: true,
    reading: { meterId: 'meter-ed-0002', seq: 2n ** 53n + 1n, time: 1_700_000_000_000, importWh: 0 } },
  { name: 'ES256, compressed key, positive powerW', alg: Alg.ES256, keyLabel: 'meter-p256-0001', compressed: true,
    reading: { meterId: 'meter-p256-0001', seq: 7n, time: 1_700_000_000_000, importWh: 98_765_432, powerW: 2_300 } },
  { name: 'ES256, uncompressed key, seq 2^64-1', alg: Alg.ES256, keyLabel: 'meter-p256-0002', compressed: false,
    reading: { meterId: 'meter-p256-0002', seq: 2n ** 64n - 1n, time: 1_700_000_000_000, importWh: 1, exportWh: 0 } },
  { name: 'ES256, high-S signature (accepted)', alg: Alg.ES256, keyLabel: 'meter-p256-0001', compressed: true, highS: true,
    reading: { meterId: 'meter-p256-0001', seq: 8n, time: 1_700_000_900_000, importWh: 98_766_000 } },
];

function readingJson(r: Omit<Reading, 'type'>): Record<string, unknown> {
  return {
    meterId: r.meterId, seq: r.seq.toString(), time: r.time, importWh: r.importWh,
    ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}),
    ...(r.powerW !== undefined ? { powerW: r.powerW } : {}),
  };
}

export function meterPublicKey(alg: Alg, label: string, compressed = true): Uint8Array {
  const pk = publicKeyOf(alg, seed(label));
  return alg === Alg.ES256 && !compressed ? p256Uncompressed(pk) : pk;
}

/** The exact bytes of one reading case, step by step. */
function buildReading(c: ReadingCase): Record<string, unknown> {
  const sk = seed(c.keyLabel);
  const body: Reading = { type: TxType.Reading, ...c.reading };
  const payload = encodeTxBody(body);
  const prot = encodeProtectedHeader(c.alg);
  const toSign = sigStructure(prot, payload, CHAIN_ID);
  let sig = signMessage(c.alg, sk, toSign);
  if (c.highS) sig = highS(sig);
  const tx = encodeCoseSign1(prot, payload, sig);
  return {
    name: c.name, alg: AlgName[c.alg], algId: c.alg, secretKey: hex(sk),
    publicKey: hex(meterPublicKey(c.alg, c.keyLabel, c.compressed)), chainId: CHAIN_ID,
    reading: readingJson(c.reading), payload: hex(payload), protectedHeader: hex(prot),
    sigStructure: hex(toSign), signature: hex(sig), ...(c.highS ? { highS: true } : {}),
    tx: hex(tx), txHash: hex(sha256(tx)),
  };
}

/** The exact transaction bytes of reading case `i` (its high-S signature included), for other vectors. */
export function readingTx(i: number): Uint8Array {
  const c = READING_CASES[i]!;
  const tx = signTx(CHAIN_ID, c.alg, seed(c.keyLabel), { type: TxType.Reading, ...c.reading });
  return c.highS ? twinOf(tx) : tx;
}

export function buildReadings(): unknown {
  return {
    description: 'Signed meter readings: COSE_Sign1_Tagged over deterministic CBOR (docs/protocol.md §3). All hex is lowercase; seq is a decimal string.',
    chainId: CHAIN_ID,
    cases: READING_CASES.map(buildReading),
  };
}

// ---------------------------------------------------------------------------- operator txs

export const OPERATOR_ID = 'op-superenergy';

export function buildOperator(): unknown {
  const sk = seed('operator-1');
  const mk = (name: string, body: TxBody): Record<string, unknown> => {
    const payload = encodeTxBody(body);
    const prot = encodeProtectedHeader(Alg.EdDSA, OPERATOR_ID);
    const toSign = sigStructure(prot, payload, CHAIN_ID);
    const tx = encodeCoseSign1(prot, payload, signMessage(Alg.EdDSA, sk, toSign));
    return { name, payload: hex(payload), protectedHeader: hex(prot), sigStructure: hex(toSign), tx: hex(tx), txHash: hex(sha256(tx)) };
  };
  const newKey = meterPublicKey(Alg.ES256, 'meter-p256-0003');
  const rotated = meterPublicKey(Alg.ES256, 'meter-p256-0003-epoch-1');
  return {
    description: 'Operator transactions, signed by an operator key listed in genesis and named by kid (protected header label 4).',
    chainId: CHAIN_ID,
    operator: { id: OPERATOR_ID, alg: 'Ed25519', secretKey: hex(sk), publicKey: hex(publicKeyOf(Alg.EdDSA, sk)) },
    cases: [
      mk('register an ES256 meter with owner and jid', {
        type: TxType.MeterRegister, meterId: 'meter-p256-0003', time: 1_700_000_000_000, alg: Alg.ES256, publicKey: newKey,
        owner: 'john', jid: 'meter-p256-0003@meters.superenergy.example',
      }),
      mk('rotate its key to epoch 1', {
        type: TxType.MeterRotate, meterId: 'meter-p256-0003', time: 1_700_086_400_000, alg: Alg.ES256, publicKey: rotated, keyEpoch: 1,
      }),
      mk('revoke it', { type: TxType.MeterRevoke, meterId: 'meter-p256-0003', time: 1_700_172_800_000 }),
      // docs/protocol.md §11.2: label 16, the recipient keys of confidential.json, sorted by id.
      mk('register a confidential meter with its recipient keys (owner P-256, biller and auditor X25519)', {
        type: TxType.MeterRegister, meterId: CONF_METER, time: 1_793_404_800_000, alg: Alg.EdDSA, publicKey: publicKeyOf(Alg.EdDSA, meterSecret()),
        owner: 'john', recipients: RECIPIENTS.map(recipientKey).sort((x, y) => (x.id < y.id ? -1 : 1)),
      }),
    ],
  };
}

// ----------------------------------------------------------------------------- invalid txs

interface InvalidCase {
  name: string;
  /** decode: decodeTx must throw RejectionError(code). verify: decodeTx succeeds, the signature must not verify. */
  stage: 'decode' | 'verify';
  code: ReasonCode;
  field?: string;
  tx: Uint8Array;
}

/** Reading payload map with some labels changed (`undefined` deletes a label). */
function payloadWith(changes: [number, unknown][], base?: Map<number, unknown>): Uint8Array {
  const m = base ?? new Map<number, unknown>([[0, 1], [1, 'meter-ed-0001'], [2, 100], [3, 1_700_000_000_000], [4, 5000]]);
  for (const [k, v] of changes) {
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  }
  return encodeCbor(m);
}

const edSk = (): Uint8Array => seed('meter-ed-0001');
/** A properly signed COSE_Sign1 over any payload and protected header bytes. */
function signedOver(payload: Uint8Array, prot = encodeProtectedHeader(Alg.EdDSA), chainId = CHAIN_ID, sk = edSk(), alg: Alg = Alg.EdDSA): Uint8Array {
  return encodeCoseSign1(prot, payload, signMessage(alg, sk, sigStructure(prot, payload, chainId)));
}
const fromH = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));

function buildInvalidCases(): InvalidCase[] {
  const M = ReasonCode.MALFORMED, S = ReasonCode.SCHEMA;
  const good = readingTx(0);
  const goodHex = hex(good);
  const prot = encodeProtectedHeader(Alg.EdDSA);
  const okPayload = payloadWith([]);
  const sig = signMessage(Alg.EdDSA, edSk(), sigStructure(prot, okPayload, CHAIN_ID));
  const arr = [prot, new Map(), okPayload, sig];
  // Non-shortest importWh: 5000 is 0x19 1388; as 0x1a 00001388 it is not deterministic.
  const okPayloadHex = hex(okPayload);
  const longInt = fromH(okPayloadHex.replace('04191388', '041a00001388'));
  if (hex(longInt) === okPayloadHex) throw new Error('vector builder: pattern not found');
  // Map keys out of order: {0, 1, 2, 4, 3}.
  const swapped = (() => {
    const m = okPayloadHex.match(/^(a5000101.*?)(031b[0-9a-f]{16})(04191388)$/);
    if (!m) throw new Error('vector builder: payload layout changed');
    return fromH(m[1]! + m[3]! + m[2]!);
  })();
  const wrongChainTx = signedOver(okPayload, prot, 'another-chain');
  const otherKeyTx = signedOver(okPayload, prot, CHAIN_ID, seed('not-the-meter'));
  const flipped = good.slice();
  flipped[flipped.length - 1]! ^= 0x01;
  // Ed25519 with S + L (RFC 8032 §5.1.7: S must be below L).
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sLE = sig.subarray(32);
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sLE[i]!);
  const sPlusL = s + L;
  const sBytes = new Uint8Array(32);
  for (let i = 0, v = sPlusL; i < 32; i++, v >>= 8n) sBytes[i] = Number(v & 0xffn);
  const nonCanonicalS = encodeCoseSign1(prot, okPayload, concatBytes(sig.subarray(0, 32), sBytes));
  // ES256 signature in DER instead of r||s.
  const esPayload = encodeTxBody({ type: TxType.Reading, meterId: 'meter-p256-0001', seq: 9n, time: 1_700_000_000_000, importWh: 1 });
  const esProt = encodeProtectedHeader(Alg.ES256);
  const esRs = signMessage(Alg.ES256, seed('meter-p256-0001'), sigStructure(esProt, esPayload, CHAIN_ID));
  const derInt = (b: Uint8Array): string => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = hex(b.subarray(i));
    if (parseInt(v.slice(0, 2), 16) >= 0x80) v = `00${v}`;
    return `02${(v.length / 2).toString(16).padStart(2, '0')}${v}`;
  };
  const derBody = derInt(esRs.subarray(0, 32)) + derInt(esRs.subarray(32));
  const der = fromH(`30${(derBody.length / 2).toString(16).padStart(2, '0')}${derBody}`);
  // Operator transactions (decoded, not verified, at this stage).
  const opProt = encodeProtectedHeader(Alg.EdDSA, OPERATOR_ID);
  const revokePayload = encodeTxBody({ type: TxType.MeterRevoke, meterId: 'meter-ed-0001', time: 1_700_000_000_000 });
  const registerPayload = (alg: Alg, publicKey: Uint8Array): Uint8Array =>
    encodeCbor(new Map<number, unknown>([[0, TxType.MeterRegister], [1, 'meter-new-0001'], [3, 1_700_000_000_000], [7, alg], [8, publicKey]]));
  const smallOrder = fromH(`01${'00'.repeat(31)}`);
  const offCurve = p256Uncompressed(meterPublicKey(Alg.ES256, 'meter-p256-0001')).slice();
  offCurve[64]! ^= 0x01;

  const cases: InvalidCase[] = [
    { name: 'untagged COSE_Sign1 (tag 18 missing)', stage: 'decode', code: M, tx: encodeCbor(arr) },
    { name: 'wrong tag (98, COSE_Sign)', stage: 'decode', code: M, tx: fromH(`d862${goodHex.slice(2)}`) },
    { name: 'trailing byte after the message', stage: 'decode', code: M, tx: fromH(`${goodHex}00`) },
    { name: 'indefinite-length array', stage: 'decode', code: M, tx: fromH(`d29f${goodHex.slice(4)}ff`) },
    { name: 'truncated message', stage: 'decode', code: M, tx: good.subarray(0, good.length - 1) },
    { name: 'empty input', stage: 'decode', code: M, tx: new Uint8Array(0) },
    { name: 'array of 3 (signature missing)', stage: 'decode', code: M, tx: encodeCbor(new Tagged(TAG_COSE_SIGN1, arr.slice(0, 3))) },
    { name: 'detached payload (nil)', stage: 'decode', code: M, field: 'payload', tx: encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map(), null, sig])) },
    { name: 'non-empty unprotected header', stage: 'decode', code: M, field: 'unprotected', tx: encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map([[4, utf8('x')]]), okPayload, sig])) },
    { name: 'protected header label 3 (content type) not allowed', stage: 'decode', code: M, field: 'protected', tx: signedOver(okPayload, encodeCbor(new Map<number, unknown>([[1, Alg.EdDSA], [3, 0]]))) },
    { name: 'protected header keys not sorted ({4: kid, 1: alg})', stage: 'decode', code: M, field: 'protected', tx: signedOver(okPayload, fromH('a204416b0127')) },
    { name: 'protected header alg as non-shortest integer (0x3807)', stage: 'decode', code: M, field: 'protected', tx: signedOver(okPayload, fromH('a1013807')) },
    { name: 'outer bstr length not shortest (0x58 for 3-byte header)', stage: 'decode', code: M, tx: fromH(goodHex.replace(/^d28443/, 'd2845803')) },
    { name: 'payload integer not shortest (importWh as 4 bytes)', stage: 'decode', code: M, field: 'payload', tx: signedOver(longInt) },
    { name: 'payload map keys not sorted (4 before 3)', stage: 'decode', code: M, field: 'payload', tx: signedOver(swapped) },
    { name: 'payload has trailing bytes', stage: 'decode', code: M, field: 'payload', tx: signedOver(concatBytes(okPayload, Uint8Array.of(0))) },
    // Two byte-string keys of the same bytes: a duplicate key (docs/protocol.md §2), which the strict decoder alone keeps.
    { name: 'payload map with a repeated key (h\'01\' twice)', stage: 'decode', code: M, field: 'payload', tx: signedOver(fromH(`${(okPayload[0]! + 2).toString(16)}${okPayloadHex.slice(2)}410101410102`)) },
    { name: 'payload time as float16 1.0 (not shortest)', stage: 'decode', code: M, field: 'payload', tx: signedOver(fromH(okPayloadHex.replace(/031b[0-9a-f]{16}/, '03f93c00'))) },
    { name: 'payload is an array', stage: 'decode', code: S, field: 'payload', tx: signedOver(encodeCbor([1, 'meter-ed-0001'])) },
    { name: 'seq missing', stage: 'decode', code: S, field: 'seq', tx: signedOver(payloadWith([[2, undefined]])) },
    { name: 'seq 0', stage: 'decode', code: S, field: 'seq', tx: signedOver(payloadWith([[2, 0]])) },
    { name: 'seq negative', stage: 'decode', code: S, field: 'seq', tx: signedOver(payloadWith([[2, -1]])) },
    { name: 'seq as text', stage: 'decode', code: S, field: 'seq', tx: signedOver(payloadWith([[2, '100']])) },
    { name: 'time missing', stage: 'decode', code: S, field: 'time', tx: signedOver(payloadWith([[3, undefined]])) },
    { name: 'time as float 1.5', stage: 'decode', code: S, field: 'time', tx: signedOver(payloadWith([[3, 1.5]])) },
    { name: 'time at 2^53 (above the safe range)', stage: 'decode', code: S, field: 'time', tx: signedOver(payloadWith([[3, 2n ** 53n]])) },
    { name: 'importWh missing', stage: 'decode', code: S, field: 'importWh', tx: signedOver(payloadWith([[4, undefined]])) },
    { name: 'importWh negative', stage: 'decode', code: S, field: 'importWh', tx: signedOver(payloadWith([[4, -1]])) },
    { name: 'importWh as text', stage: 'decode', code: S, field: 'importWh', tx: signedOver(payloadWith([[4, '5000']])) },
    { name: 'exportWh as bstr', stage: 'decode', code: S, field: 'exportWh', tx: signedOver(payloadWith([[5, Uint8Array.of(1)]])) },
    { name: 'powerW as float', stage: 'decode', code: S, field: 'powerW', tx: signedOver(payloadWith([[6, 0.5]])) },
    { name: 'meterId missing', stage: 'decode', code: S, field: 'meterId', tx: signedOver(payloadWith([[1, undefined]])) },
    { name: 'meterId with a slash', stage: 'decode', code: S, field: 'meterId', tx: signedOver(payloadWith([[1, 'meter/1']])) },
    { name: 'meterId of 65 characters', stage: 'decode', code: S, field: 'meterId', tx: signedOver(payloadWith([[1, 'm'.repeat(65)]])) },
    { name: 'meterId starting with a dot', stage: 'decode', code: S, field: 'meterId', tx: signedOver(payloadWith([[1, '.meter']])) },
    { name: 'unknown label 12', stage: 'decode', code: S, field: 'payload', tx: signedOver(payloadWith([[12, 1]])) },
    { name: 'label 7 (key alg) in a reading', stage: 'decode', code: S, field: 'payload', tx: signedOver(payloadWith([[7, -8]])) },
    { name: 'text label "seq"', stage: 'decode', code: S, field: 'payload', tx: signedOver(payloadWith([[2, undefined]], new Map<number | string, unknown>([[0, 1], [1, 'meter-ed-0001'], ['seq', 1], [3, 1], [4, 1]]) as Map<number, unknown>)) },
    { name: 'type 9', stage: 'decode', code: S, field: 'type', tx: signedOver(payloadWith([[0, 9]])) },
    { name: 'type as text "1"', stage: 'decode', code: S, field: 'type', tx: signedOver(payloadWith([[0, '1']])) },
    { name: 'type missing', stage: 'decode', code: S, field: 'type', tx: signedOver(payloadWith([[0, undefined]])) },
    { name: 'alg -35 (ES384)', stage: 'decode', code: ReasonCode.BAD_ALG, field: 'alg', tx: signedOver(okPayload, encodeCbor(new Map([[1, -35]]))) },
    { name: 'alg missing (empty protected map)', stage: 'decode', code: ReasonCode.BAD_ALG, field: 'alg', tx: signedOver(okPayload, encodeCbor(new Map())) },
    { name: 'alg as text "EdDSA"', stage: 'decode', code: ReasonCode.BAD_ALG, field: 'alg', tx: signedOver(okPayload, encodeCbor(new Map([[1, 'EdDSA']]))) },
    { name: '1025 bytes (over the default maxTxBytes 1024)', stage: 'decode', code: ReasonCode.TOO_LARGE, tx: (() => {
      const base = encodeCoseSign1(prot, okPayload, new Uint8Array(0));
      return encodeCoseSign1(prot, okPayload, new Uint8Array(1025 - base.length - 2));
    })() },
    { name: 'payload time as float64 1.5 (a float not in its shortest form)', stage: 'decode', code: M, field: 'payload', tx: signedOver(fromH(okPayloadHex.replace(/031b[0-9a-f]{16}/, '03fb3ff8000000000000'))) },
    { name: 'payload time as float32 1.5 (a float not in its shortest form)', stage: 'decode', code: M, field: 'payload', tx: signedOver(fromH(okPayloadHex.replace(/031b[0-9a-f]{16}/, '03fa3fc00000'))) },
    { name: 'importWh 2^64-1 (deterministic CBOR, beyond the 2^53-1 of every field but seq)', stage: 'decode', code: S, field: 'importWh', tx: signedOver(payloadWith([[4, 2n ** 64n - 1n]])) },
    { name: 'powerW -2^53 (below -(2^53-1))', stage: 'decode', code: S, field: 'powerW', tx: signedOver(payloadWith([[6, -(2n ** 53n)]])) },
    { name: 'a reading with a kid (its meter id names its key)', stage: 'decode', code: M, field: 'kid', tx: signedOver(okPayload, encodeProtectedHeader(Alg.EdDSA, 'meter-ed-0001')) },
    { name: 'operator tx: kid as a text string, not a bstr', stage: 'decode', code: M, field: 'kid', tx: signedOver(revokePayload, encodeCbor(new Map<number, unknown>([[1, Alg.EdDSA], [4, OPERATOR_ID]]))) },
    { name: 'meter.register with a small-order Ed25519 key (the identity point: R = identity, S = 0 verifies anything)', stage: 'decode', code: S, field: 'publicKey', tx: signedOver(registerPayload(Alg.EdDSA, smallOrder), opProt) },
    { name: 'meter.register with a P-256 point off the curve (y changed)', stage: 'decode', code: S, field: 'publicKey', tx: signedOver(registerPayload(Alg.ES256, offCurve), opProt) },
    { name: 'meter.register with a key of the wrong length for its alg', stage: 'decode', code: S, field: 'publicKey', tx: signedOver(registerPayload(Alg.EdDSA, new Uint8Array(33).fill(2)), opProt) },
    { name: 'meter.rotate with keyEpoch 0 (registration is epoch 0)', stage: 'decode', code: S, field: 'keyEpoch', tx: signedOver(encodeTxBody({ type: TxType.MeterRotate, meterId: 'meter-ed-0001', time: 1_700_000_000_000, alg: Alg.EdDSA, publicKey: meterPublicKey(Alg.EdDSA, 'meter-ed-0002'), keyEpoch: 0 }), opProt) },
    { name: 'signature with one bit flipped', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: flipped },
    { name: 'signed for another chain id (external_aad)', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: wrongChainTx },
    { name: 'signed by another key', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: otherKeyTx },
    { name: 'Ed25519 S not reduced (S + L)', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: nonCanonicalS },
    { name: 'Ed25519 signature of 63 bytes', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: encodeCoseSign1(prot, okPayload, sig.subarray(0, 63)) },
    { name: 'ES256 signature DER-encoded instead of r||s', stage: 'verify', code: ReasonCode.BAD_SIGNATURE, tx: encodeCoseSign1(esProt, esPayload, der) },
  ];
  return cases;
}

export function buildInvalid(): unknown {
  return {
    description: 'Transactions that must be refused, with the reason code. stage "decode": the envelope and payload checks (decodeTx, maxTxBytes 1024) refuse it. stage "verify": it decodes, but its signature does not verify with the key given (the meter\'s registered key).',
    chainId: CHAIN_ID,
    maxTxBytes: 1024,
    keys: {
      'meter-ed-0001': { alg: 'Ed25519', publicKey: hex(meterPublicKey(Alg.EdDSA, 'meter-ed-0001')) },
      'meter-p256-0001': { alg: 'ES256', publicKey: hex(meterPublicKey(Alg.ES256, 'meter-p256-0001')) },
    },
    cases: buildInvalidCases().map((c) => ({
      name: c.name, stage: c.stage, code: c.code, ...(c.field !== undefined ? { field: c.field } : {}), tx: hex(c.tx),
    })),
  };
}

// ---------------------------------------------------------------------------------- merkle

/** Leaves 0..7 are those of the certificate-transparency reference tests; the rest are ours. */
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
export function merkleLeaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => (i < CT_LEAVES.length ? (CT_LEAVES[i] === '' ? new Uint8Array(0) : fromH(CT_LEAVES[i]!)) : utf8(`meterledger leaf ${i}`)));
}

export function buildMerkle(): unknown {
  const sizes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17];
  const all = merkleLeaves(17);
  return {
    description: 'RFC 6962 §2.1 Merkle Tree Hash over SHA-256 (leaf hash SHA-256(0x00||d), node hash SHA-256(0x01||l||r)) and audit paths (bottom-up). Tree of size n has leaves[0..n-1].',
    emptyTreeHash: hex(sha256()),
    leaves: all.map(hex),
    trees: sizes.map((n) => {
      const leaves = all.slice(0, n);
      return { size: n, root: hex(merkleRoot(leaves)), paths: allInclusionProofs(leaves).map((p) => p.map(hex)) };
    }),
  };
}

// ------------------------------------------------------------------ genesis, block, receipt

export const VALIDATOR_IDS = ['val-1', 'val-2', 'val-3', 'val-4'];

export function genesisDoc(): Record<string, unknown> {
  return {
    chainId: CHAIN_ID,
    genesisTime: '2023-11-14T00:00:00Z',
    validators: VALIDATOR_IDS.map((id) => ({ id, alg: 'Ed25519', publicKey: hex(publicKeyOf(Alg.EdDSA, seed(id))), power: 1 })),
    operators: [{ id: OPERATOR_ID, alg: 'Ed25519', publicKey: hex(publicKeyOf(Alg.EdDSA, seed('operator-1'))) }],
    meters: [
      { id: 'meter-ed-0001', alg: 'Ed25519', publicKey: hex(meterPublicKey(Alg.EdDSA, 'meter-ed-0001')), owner: 'john' },
      { id: 'meter-ed-0002', alg: 'Ed25519', publicKey: hex(meterPublicKey(Alg.EdDSA, 'meter-ed-0002')) },
      { id: 'meter-p256-0001', alg: 'ES256', publicKey: hex(meterPublicKey(Alg.ES256, 'meter-p256-0001')) },
      { id: 'meter-p256-0002', alg: 'ES256', publicKey: hex(meterPublicKey(Alg.ES256, 'meter-p256-0002', false)) },
    ],
    params: { maxTxBytes: 1024, maxBlockTxs: 10000 },
  };
}

function headerJson(h: BlockHeader): Record<string, unknown> {
  return { chainId: h.chainId, height: h.height, time: h.time, prevHash: hex(h.prevHash), txRoot: hex(h.txRoot), txCount: h.txCount, proposer: h.proposer };
}

/** Block 1 of the test chain: the reading vectors, byte for byte (the high-S one too), committed by val-1, val-2, val-3. */
export function testBlock(): { header: BlockHeader; txs: Uint8Array[]; commit: CommitCertificate; receipt: Receipt } {
  const g = parseGenesis(genesisDoc());
  const txs = READING_CASES.map((_, i) => readingTx(i));
  // After every reading's time and within 8 days of it: the time rule (docs/protocol.md §3.5) holds.
  const header = makeHeader({ chainId: CHAIN_ID, height: 1, time: 1_700_000_901_000, prevHash: genesisHash(g), proposer: 'val-1' }, txs);
  const blockHash = headerHash(header);
  const msg = voteSignBytes(CHAIN_ID, VoteType.Precommit, 1, 0, blockHash);
  const commit: CommitCertificate = {
    height: 1, round: 0, blockHash,
    signatures: VALIDATOR_IDS.slice(0, 3).map((id) => ({ validator: id, signature: signMessage(Alg.EdDSA, seed(id), msg) })),
  };
  const index = 3;
  const receipt: Receipt = { chainId: CHAIN_ID, tx: txs[index]!, index, header, proof: allInclusionProofs(txs)[index]!, commit };
  return { header, txs, commit, receipt };
}

export function buildBlock(): unknown {
  const doc = genesisDoc();
  const g = parseGenesis(doc);
  const { header, txs, commit, receipt } = testBlock();
  const blockHash = headerHash(header);
  const receiptBytes = encodeReceipt(receipt);
  const r = receipt.tx;
  const index = receipt.index;
  return {
    description: 'Genesis, block 1 (the transactions of readings.json, byte for byte, in order: its last is the high-S signature), its commit certificate (3 of 4 validators, power 3 > 2/3 of 4), a receipt of tx 3, and the messages a meter sees on meters/<id>/receipts.',
    genesis: doc,
    genesisHash: hex(genesisHash(g)),
    header: headerJson(header),
    headerBytes: hex(encodeHeader(header)),
    blockHash: hex(blockHash),
    txs: txs.map(hex),
    blockBytes: hex(encodeBlock({ header, txs })),
    validatorSecretKeys: Object.fromEntries(VALIDATOR_IDS.map((id) => [id, hex(seed(id))])),
    precommitSignBytes: hex(voteSignBytes(CHAIN_ID, VoteType.Precommit, 1, 0, blockHash)),
    prevoteNilSignBytes: hex(voteSignBytes(CHAIN_ID, VoteType.Prevote, 1, 0, null)),
    commit: { height: commit.height, round: commit.round, blockHash: hex(commit.blockHash), signatures: commit.signatures.map((s) => ({ validator: s.validator, signature: hex(s.signature) })) },
    commitBytes: hex(encodeCommit(commit)),
    receipt: { index: receipt.index, txHash: hex(sha256(r)), proof: receipt.proof.map(hex), bytes: hex(receiptBytes) },
    receiptVerifies: { height: 1, signatureChecked: true },
    commitChecks: {
      description: 'docs/protocol.md §5: each certificate for the block above, valid or not. Every entry must be a precommit of that height, round and block hash by a distinct genesis validator with a good signature: one bad entry spoils a certificate even when the others hold more than 2/3.',
      cases: commitCases(blockHash).map((c) => ({ name: c.name, commitBytes: hex(encodeCommit(c.commit)), valid: c.valid })),
    },
    receiptChecks: {
      description: 'docs/protocol.md §7: receipts with exactly the fields of §7 decode; anything else is E_RECEIPT_MALFORMED.',
      cases: [
        { name: 'an extra top-level field "note"', bytes: hex(encodeCbor({ ...(receiptToCbor(receipt) as Record<string, unknown>), note: 'trust me' })), error: 'E_RECEIPT_MALFORMED' },
        { name: 'an extra field in its commit certificate', bytes: hex(encodeCbor({ ...(receiptToCbor(receipt) as Record<string, unknown>), commit: { ...(commitToCbor(commit) as Record<string, unknown>), extra: 1 } })), error: 'E_RECEIPT_MALFORMED' },
        { name: 'an extra field in a commit signature', bytes: hex(encodeCbor({ ...(receiptToCbor(receipt) as Record<string, unknown>), commit: { ...(commitToCbor(commit) as Record<string, unknown>), signatures: commit.signatures.map((x) => ({ validator: x.validator, signature: x.signature, power: 1 })) } })), error: 'E_RECEIPT_MALFORMED' },
        { name: 'v 2', bytes: hex(encodeCbor({ ...(receiptToCbor(receipt) as Record<string, unknown>), v: 2 })), error: 'E_RECEIPT_MALFORMED' },
        { name: 'header missing', bytes: hex(encodeCbor(Object.fromEntries(Object.entries(receiptToCbor(receipt) as Record<string, unknown>).filter(([k]) => k !== 'header')))), error: 'E_RECEIPT_MALFORMED' },
      ],
    },
    receiptsTopic: {
      committed: hex(encodeReceiptsTopicMessage({ status: 'committed', txHash: sha256(r), seq: 7n, height: 1, index, blockHash, receipt })),
      compact: hex(encodeReceiptsTopicMessage({ status: 'committed', txHash: sha256(r), seq: 7n, height: 1, index, blockHash })),
      requestBySeq: hex(encodeReceiptRequest({ seq: 7n })),
      requestByTxHash: hex(encodeReceiptRequest({ txHash: sha256(r) })),
      rejected: hex(encodeReceiptsTopicMessage({ status: 'rejected', txHash: sha256(r), code: ReasonCode.SEQ_REPLAY, message: 'seq 7 is not above 8', seq: 7n })),
    },
  };
}

// -------------------------------------------------------------------------- peer envelopes

/** docs/protocol.md §12: valid envelopes of each kind, a request and the answer bound to it, and envelopes to refuse. */
export function buildP2p(): unknown {
  const [v1, v2] = VALIDATOR_IDS as [string, string];
  const T = 1_700_000_000_000;
  const seal = (from: string, kind: PeerKind, payload: Uint8Array, timeMs: number, to = '', chainId = CHAIN_ID, key = seed(from)) => {
    const header = encodePeerHeader({ kind, timeMs, payloadLength: payload.length, payloadDigest: sha256(payload), chainId, from, to });
    const signature = signMessage(Alg.EdDSA, key, header);
    return { header, signature, payload, envelope: joinPeerEnvelope(header, signature, payload), id: peerEnvelopeId(header) };
  };
  const valid = (name: string, e: ReturnType<typeof seal>, fields: { kind: PeerKind; from: string; to: string; timeMs: number }) => ({
    name, ...fields, payload: hex(e.payload), payloadDigest: hex(sha256(e.payload)), header: hex(e.header), signature: hex(e.signature), id: hex(e.id), envelope: hex(e.envelope),
  });
  const vote = utf8('a consensus message (docs/consensus.md) goes here');
  const request = seal(v1, 'sync-req', utf8('block 7?'), T + 2, v2);
  const answer = bindAnswer(request.id, utf8('block 7 and its commit'));
  const good = seal(v1, 'tx', utf8('gossip'), T);
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const c = new Uint8Array(b);
    c[i]! ^= 1;
    return c;
  };
  return {
    description: 'Peer envelopes (docs/protocol.md §12) between the validators of block.json (their keys: validatorSecretKeys there). Each invalid case says which subject it came in on (`expect`, the kind that subject carries), our clock (`nowMs`) and the code to refuse it with; `to` of the receiver is val-2.',
    chainId: CHAIN_ID,
    domain: PEER_ENVELOPE_DOMAIN,
    windowMs: 30_000,
    subjects: { consensus: peerSubjects(CHAIN_ID).consensus, tx: peerSubjects(CHAIN_ID).tx, status: peerSubjects(CHAIN_ID).status, sync: peerSubjects(CHAIN_ID).sync, syncToVal2: peerSubjects(CHAIN_ID).syncTo(v2) },
    valid: [
      valid('consensus broadcast', seal(v1, 'consensus', vote, T), { kind: 'consensus', from: v1, to: '', timeMs: T }),
      valid('heartbeat (status, empty payload)', seal(v1, 'status', new Uint8Array(0), T + 1), { kind: 'status', from: v1, to: '', timeMs: T + 1 }),
      valid('sync request to val-2', request, { kind: 'sync-req', from: v1, to: v2, timeMs: T + 2 }),
      valid('sync answer to val-1, bound to the request above (payload = its id ‖ answer)', seal(v2, 'sync-res', answer, T + 3, v1), { kind: 'sync-res', from: v2, to: v1, timeMs: T + 3 }),
    ],
    invalid: [
      { name: 'another domain (a v1 envelope, or anything else)', expect: 'tx', nowMs: T, code: 'E_P2P_MALFORMED', envelope: hex(concatBytes(utf8('meterledger/p2p/v1'), good.envelope.subarray(18))) },
      { name: 'kind byte 9', expect: 'tx', nowMs: T, code: 'E_P2P_MALFORMED', envelope: hex((() => { const c = new Uint8Array(good.envelope); c[18] = 9; return c; })()) },
      { name: 'one byte short', expect: 'tx', nowMs: T, code: 'E_P2P_MALFORMED', envelope: hex(good.envelope.subarray(0, good.envelope.length - 1)) },
      { name: 'payload off its digest', expect: 'tx', nowMs: T, code: 'E_P2P_MALFORMED', envelope: hex(flip(good.envelope, good.envelope.length - 1)) },
      { name: 'a header bit flipped (timeMs)', expect: 'tx', nowMs: T, code: 'E_P2P_BAD_SIGNATURE', envelope: hex(flip(good.envelope, 26)) },
      { name: 'signed by another key', expect: 'tx', nowMs: T, code: 'E_P2P_BAD_SIGNATURE', envelope: hex(seal(v1, 'tx', utf8('gossip'), T, '', CHAIN_ID, seed(v2)).envelope) },
      { name: 'a sender outside genesis', expect: 'tx', nowMs: T, code: 'E_P2P_UNKNOWN_PEER', envelope: hex(seal('mallory', 'tx', utf8('gossip'), T).envelope) },
      { name: 'another chain', expect: 'tx', nowMs: T, code: 'E_P2P_WRONG_CHAIN', envelope: hex(seal(v1, 'tx', utf8('gossip'), T, '', 'other-chain').envelope) },
      { name: 'a tx envelope on the consensus subject', expect: 'consensus', nowMs: T, code: 'E_P2P_MISADDRESSED', envelope: hex(good.envelope) },
      { name: 'a sync request for val-3', expect: 'sync-req', nowMs: T, code: 'E_P2P_MISADDRESSED', envelope: hex(seal(v1, 'sync-req', utf8('block 7?'), T, 'val-3').envelope) },
      { name: '30.001 s old', expect: 'tx', nowMs: T + 30_001, code: 'E_P2P_STALE', envelope: hex(good.envelope) },
      { name: '30.001 s ahead', expect: 'tx', nowMs: T - 30_001, code: 'E_P2P_STALE', envelope: hex(good.envelope) },
    ],
  };
}

// ------------------------------------------------------------------------------ state rules

interface StateStep {
  name: string;
  /** Header time of the one-transaction block that tries to hold `tx`. */
  blockTime: number;
  tx: Uint8Array;
  /** 'ok', or the reason code that makes such a block invalid. */
  result: 'ok' | ReasonCode;
}

const T0 = 1_700_000_000_000;
const DAY_MS = 86_400_000;

function stateSteps(): StateStep[] {
  const ed = (seq: bigint, time: number, importWh = 1000): Uint8Array =>
    signTx(CHAIN_ID, Alg.EdDSA, seed('meter-ed-0001'), { type: TxType.Reading, meterId: 'meter-ed-0001', seq, time, importWh });
  const op = (body: TxBody): Uint8Array => signTx(CHAIN_ID, Alg.EdDSA, seed('operator-1'), body, OPERATOR_ID);
  const past = T0 + 8 * DAY_MS; // a block time 8 days after T0
  return [
    { name: 'a reading at its block\'s time', blockTime: T0, tx: ed(1n, T0), result: 'ok' },
    { name: 'a reading exactly maxReadingPastMs (8 days) before its block\'s time: inside', blockTime: past, tx: ed(2n, T0), result: 'ok' },
    { name: 'a reading 8 days and 1 ms before its block\'s time', blockTime: past + 1, tx: ed(3n, T0), result: ReasonCode.TIME_SKEW },
    { name: 'a reading exactly maxReadingFutureMs (10 minutes) after its block\'s time: inside', blockTime: past + 1, tx: ed(3n, past + 1 + 600_000), result: 'ok' },
    { name: 'a reading 10 minutes and 1 ms after its block\'s time', blockTime: past + 1, tx: ed(4n, past + 1 + 600_001), result: ReasonCode.TIME_SKEW },
    { name: 'a reading dated 1970-01-01 (time 0)', blockTime: past + 1, tx: ed(4n, 0), result: ReasonCode.TIME_SKEW },
    { name: 'a reading dated 2^53-1 ms (beyond any calendar date)', blockTime: past + 1, tx: ed(4n, Number.MAX_SAFE_INTEGER), result: ReasonCode.TIME_SKEW },
    { name: 'an operator transaction dated 1970: operator transactions have no time window', blockTime: past + 1, result: 'ok',
      tx: op({ type: TxType.MeterRegister, meterId: 'meter-ed-0009', time: 0, alg: Alg.EdDSA, publicKey: meterPublicKey(Alg.EdDSA, 'meter-ed-0009') }) },
    { name: 'an ES256 reading (meter-p256-0001 seq 7 at block time)', blockTime: past + 1, tx: p256(7n, past + 1), result: 'ok' },
    { name: 'its high-S twin: the same reading (meter, seq) in other bytes; a block cannot hold it again', blockTime: past + 1, tx: twinOf(p256(7n, past + 1)), result: ReasonCode.SEQ_REPLAY },
    { name: 'a reading whose seq is not above its meter\'s last (another reading with seq 2)', blockTime: past + 1, tx: ed(2n, past + 1, 7), result: ReasonCode.SEQ_REPLAY },
    ...operatorSteps(past + 1),
  ];
}

/** The codes of operator transactions and of the meter states they make (docs/protocol.md §3.6, §9). */
function operatorSteps(t: number): StateStep[] {
  const opSk = seed('operator-1');
  const op = (body: TxBody, kid: string | null = OPERATOR_ID, sk = opSk): Uint8Array => signTx(CHAIN_ID, Alg.EdDSA, sk, body, kid ?? undefined);
  const m9 = (seq: bigint, label = 'meter-ed-0009-epoch-1', alg: Alg = Alg.EdDSA): Uint8Array =>
    signTx(CHAIN_ID, alg, seed(label), { type: TxType.Reading, meterId: 'meter-ed-0009', seq, time: t, importWh: 5 });
  const rotate = (meterId: string, keyEpoch: number): Uint8Array =>
    op({ type: TxType.MeterRotate, meterId, time: t, alg: Alg.EdDSA, publicKey: meterPublicKey(Alg.EdDSA, `${meterId}-epoch-${keyEpoch}`), keyEpoch });
  const revoke = (meterId: string): TxBody => ({ type: TxType.MeterRevoke, meterId, time: t });
  const step = (name: string, tx: Uint8Array, result: StateStep['result']): StateStep => ({ name, blockTime: t, tx, result });
  return [
    step('an operator transaction without a kid', op(revoke('meter-ed-0002'), null), ReasonCode.NOT_OPERATOR),
    step('an operator transaction whose kid names no genesis operator', op(revoke('meter-ed-0002'), 'op-nobody'), ReasonCode.NOT_OPERATOR),
    step('the right kid, signed by another key', op(revoke('meter-ed-0002'), OPERATOR_ID, seed('not-the-operator')), ReasonCode.BAD_SIGNATURE),
    step('register a meter that is registered', op({ type: TxType.MeterRegister, meterId: 'meter-ed-0009', time: t, alg: Alg.EdDSA, publicKey: meterPublicKey(Alg.EdDSA, 'meter-ed-0009') }), ReasonCode.TX_CONFLICT),
    step('rotate a meter that is not registered', rotate('meter-ed-0404', 1), ReasonCode.UNKNOWN_METER),
    step('rotate with a keyEpoch other than the current + 1', rotate('meter-ed-0009', 2), ReasonCode.TX_CONFLICT),
    step('rotate meter-ed-0009 to key epoch 1', rotate('meter-ed-0009', 1), 'ok'),
    step('a reading signed with the key from before the rotation', m9(1n, 'meter-ed-0009'), ReasonCode.BAD_SIGNATURE),
    step('a reading signed with an ES256 header for an Ed25519 key', m9(1n, 'meter-ed-0009-epoch-1', Alg.ES256), ReasonCode.BAD_ALG),
    step('a reading signed with the new key', m9(1n), 'ok'),
    step('revoke meter-ed-0009', op(revoke('meter-ed-0009')), 'ok'),
    step('a reading of the revoked meter', m9(2n), ReasonCode.METER_REVOKED),
    step('rotate the revoked meter', rotate('meter-ed-0009', 2), ReasonCode.METER_REVOKED),
    step('revoke it again', op(revoke('meter-ed-0009')), ReasonCode.TX_CONFLICT),
    step('revoke a meter that is not registered', op(revoke('meter-ed-0404')), ReasonCode.UNKNOWN_METER),
    step('a reading of a meter that is not registered', signTx(CHAIN_ID, Alg.EdDSA, seed('meter-ed-0404'), { type: TxType.Reading, meterId: 'meter-ed-0404', seq: 1n, time: t, importWh: 1 }), ReasonCode.UNKNOWN_METER),
  ];
}

const p256 = (seq: bigint, time: number, importWh = 1000): Uint8Array =>
  signTx(CHAIN_ID, Alg.ES256, seed('meter-p256-0001'), { type: TxType.Reading, meterId: 'meter-p256-0001', seq, time, importWh });

/** The high-S twin of an ES256 transaction: same protected header and payload, s -> n - s. */
function twinOf(tx: Uint8Array): Uint8Array {
  const c = decodeCoseSign1(tx);
  return encodeCoseSign1(c.protectedBytes, c.payload, highS(c.signature));
}

/** Pairs of transactions and whether they are the same reading (docs/protocol.md §3.8). */
function sameReadingCases(): { name: string; a: Uint8Array; b: Uint8Array; same: boolean }[] {
  const r = p256(7n, T0);
  return [
    { name: 'the same bytes', a: r, b: r, same: true },
    { name: 'an ES256 reading and its high-S twin', a: r, b: twinOf(r), same: true },
    { name: 'the same meter and seq, another importWh: another reading (a replay)', a: r, b: p256(7n, T0, 1001), same: false },
    { name: 'the same meter and seq, another time: another reading', a: r, b: p256(7n, T0 + 1), same: false },
  ];
}

export function buildState(): unknown {
  return {
    description: 'State rules (docs/protocol.md §3.5, §3.6, §9), step by step from block.json\'s genesis: each step is a block of one transaction `tx` with header time `blockTime`; `result` is "ok" (the block is valid and its transaction changes the state the next steps see) or the reason code that makes the block invalid (the state is unchanged). Reading window: the genesis defaults.',
    chainId: CHAIN_ID,
    genesis: 'block.json genesis',
    readingWindow: { maxReadingPastMs: 8 * DAY_MS, maxReadingFutureMs: 600_000 },
    steps: stateSteps().map((st) => ({ name: st.name, blockTime: st.blockTime, tx: hex(st.tx), result: st.result })),
    sameReading: {
      description: 'docs/protocol.md §3.8: two transactions are the same reading when their protected header and payload bytes are equal (so are meter and seq); the signature may differ. Gateways match, look up and receipt readings by (meterId, seq) and this equality, never by tx hash.',
      cases: sameReadingCases().map((c) => ({ name: c.name, a: hex(c.a), b: hex(c.b), same: c.same })),
    },
  };
}

/** Commit certificates for block 1 of block.json, valid or not (docs/protocol.md §5). */
function commitCases(blockHash: Uint8Array): { name: string; commit: CommitCertificate; valid: boolean }[] {
  const vote = (id: string, o: { type?: VoteType; round?: number; key?: string } = {}) => ({
    validator: id,
    signature: signMessage(Alg.EdDSA, seed(o.key ?? id), voteSignBytes(CHAIN_ID, o.type ?? VoteType.Precommit, 1, o.round ?? 0, blockHash)),
  });
  const [v1, v2, v3, v4] = VALIDATOR_IDS as [string, string, string, string];
  const three = [vote(v1), vote(v2), vote(v3)];
  const c = (signatures: CommitCertificate['signatures'], over: Partial<CommitCertificate> = {}): CommitCertificate => ({ height: 1, round: 0, blockHash, signatures, ...over });
  return [
    { name: '3 of 4 (power 3 > 2/3 of 4)', commit: c(three), valid: true },
    { name: '4 of 4', commit: c([...three, vote(v4)]), valid: true },
    { name: '3 of 4 in another order (order does not matter)', commit: c([vote(v3), vote(v1), vote(v2)]), valid: true },
    { name: 'round 1, signed for round 1', commit: c([vote(v1, { round: 1 }), vote(v2, { round: 1 }), vote(v4, { round: 1 })], { round: 1 }), valid: true },
    { name: '2 of 4 (power 2 is not more than 2/3 of 4)', commit: c(three.slice(0, 2)), valid: false },
    { name: 'no signatures', commit: c([]), valid: false },
    { name: '3 of 4 and val-1 again (a duplicate spoils it)', commit: c([...three, vote(v1)]), valid: false },
    { name: '3 of 4 and val-9, not a genesis validator (spoils it)', commit: c([...three, vote('val-9')]), valid: false },
    { name: '3 of 4 and val-4 with a bad signature (made with val-1\'s key; spoils it)', commit: c([...three, vote(v4, { key: v1 })]), valid: false },
    { name: '3 signatures, one of them a prevote', commit: c([vote(v1), vote(v2), vote(v3, { type: VoteType.Prevote })]), valid: false },
    { name: 'round 0 in the certificate, signatures for round 1', commit: c([vote(v1, { round: 1 }), vote(v2, { round: 1 }), vote(v3, { round: 1 })]), valid: false },
    { name: 'for height 2', commit: c(three, { height: 2 }), valid: false },
    { name: 'for another block hash', commit: c(three, { blockHash: sha256(blockHash) }), valid: false },
  ];
}

// ---------------------------------------------------------------------------- genesis docs

/** Genesis documents and their normalized form and hash (docs/protocol.md §6). */
export function buildGenesis(): unknown {
  const v = (id: string, o: Record<string, unknown> = {}) => ({ id, alg: 'Ed25519', publicKey: hex(publicKeyOf(Alg.EdDSA, seed(id))), ...o });
  const base = { chainId: 'genesis-vectors-1', genesisTime: '2026-01-01T00:00:00Z' };
  const p256Key = hex(meterPublicKey(Alg.ES256, 'meter-p256-0001'));
  const docs: { name: string; doc: Record<string, unknown> }[] = [
    { name: 'minimal: one validator; no operators, meters, observers or params (absent lists are empty)', doc: { ...base, validators: [v('val-1')] } },
    { name: 'the same, with empty operators, meters and observers and the default params written out: the same hash', doc: {
      ...base, validators: [v('val-1', { power: 1 })], observers: [], operators: [], meters: [], params: { maxTxBytes: 1024, maxBlockTxs: 10000 } } },
    { name: 'aliases (EdDSA, P-256) and upper-case hex are normalized', doc: {
      ...base, validators: [{ ...v('val-1'), alg: 'EdDSA', publicKey: v('val-1').publicKey.toUpperCase() }],
      meters: [{ id: 'meter-p256-0001', alg: 'P-256', publicKey: p256Key.toUpperCase() }] } },
    { name: 'the reading window written out: kept, so another hash (absent, it stays absent and defaults apply)', doc: {
      ...base, validators: [v('val-1')], params: { maxReadingPastMs: 691_200_000, maxReadingFutureMs: 600_000 } } },
    { name: 'a confidential meter (§11.2): recipient keys sorted by id, kem by name, hex lower-cased', doc: {
      ...base, validators: [v('val-1')],
      meters: [{ id: 'meter-p256-0001', alg: 'P-256', publicKey: p256Key, owner: 'john', recipients: [
        { id: 'biller-1/enc-1', kem: 'X25519', publicKey: hex(kemPublicKey(Kem.X25519, seed('recipient-biller-1-enc-1'))).toUpperCase() },
        { id: 'john/enc-1', kem: 'P-256', publicKey: hex(kemPublicKey(Kem.P256, seed('recipient-john-enc-1'))) },
      ] }] } },
  ];
  return {
    description: 'Genesis documents (JSON), their normalized form and the genesis hash = SHA-256 of its deterministic CBOR (docs/protocol.md §6).',
    cases: docs.map((d) => {
      const g = parseGenesis(d.doc);
      return { name: d.name, doc: d.doc, normalized: g, hash: hex(genesisHash(g)) };
    }),
  };
}

// -------------------------------------------------------------------------- connect token

export function buildToken(): unknown {
  const timeMs = 1_700_000_000_000;
  const maxAgeMs = 300_000;
  const mk = (alg: Alg, label: string) => {
    const sk = seed(label);
    // `<meterId>/<suffix>`: docs/protocol.md §8.1, a meter's client ids are its own.
    const clientId = `${label}/c1`;
    return {
      alg: AlgName[alg], meterId: label, clientId, timeMs, secretKey: hex(sk), publicKey: hex(publicKeyOf(alg, sk)),
      signBytes: hex(connectTokenSignBytes(CHAIN_ID, label, clientId, timeMs)),
      token: makeConnectToken(CHAIN_ID, label, clientId, timeMs, alg, sk),
      checks: [
        { name: 'valid, same time', nowMs: timeMs, clientId, ok: true },
        { name: 'valid, 5 minutes later (edge)', nowMs: timeMs + maxAgeMs, clientId, ok: true },
        { name: 'expired, 5 minutes and 1 ms later', nowMs: timeMs + maxAgeMs + 1, clientId, ok: false },
        { name: 'from the future, 5 minutes and 1 ms early', nowMs: timeMs - maxAgeMs - 1, clientId, ok: false },
        { name: 'another client id', nowMs: timeMs, clientId: `${clientId}x`, ok: false },
      ],
    };
  };
  return {
    description: 'MQTT CONNECT over plain TCP: username = meter id, client id = meter id or <meter id>/<suffix>, password = ml1.<timeMs>.<hex signature> over CBOR ["meterledger/connect/v1", chainId, meterId, clientId, timeMs]; window ±maxAgeMs.',
    chainId: CHAIN_ID,
    maxAgeMs,
    cases: [mk(Alg.EdDSA, 'meter-ed-0001'), mk(Alg.ES256, 'meter-p256-0001')],
  };
}

// ----------------------------------------------------------------------------------- files

export function buildAll(): Record<string, unknown> {
  return {
    'readings.json': buildReadings(),
    'operator.json': buildOperator(),
    'invalid.json': buildInvalid(),
    'merkle.json': buildMerkle(),
    'block.json': buildBlock(),
    'token.json': buildToken(),
    'confidential.json': buildConfidential(),
    'p2p.json': buildP2p(),
    'billing.json': buildBilling(),
    'state.json': buildState(),
    'genesis.json': buildGenesis(),
    'billing-ledger.json': buildBillingLedger(),
    'bill-bundle.json': buildBillBundle(),
    'validator-set.json': buildValidatorSet({ genesisDoc, readingTx }),
    'peer-messages.json': buildPeerMessages({ testBlock }),
  };
}

/** A vector file as stored in the source tree. */
export function readVector<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, pathToFileURL(VECTORS_DIR)), 'utf8')) as T;
}

/** JSON text of a vector file, as written to disk (2-space indent, final newline). */
export const vectorText = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/**
 * The same JSON with every array or object that fits in `width` characters on one line:
 * for files of many small rows (billing.json's readings), one row per line.
 */
export function compactVectorText(v: unknown, width = 110): string {
  const walk = (x: unknown, indent: string): string => {
    const flat = JSON.stringify(x);
    if (typeof x !== 'object' || x === null || flat.length + indent.length <= width) return flat;
    const inner = `${indent}  `;
    if (Array.isArray(x)) return x.length === 0 ? '[]' : `[\n${x.map((e) => inner + walk(e, inner)).join(',\n')}\n${indent}]`;
    const entries = Object.entries(x as Record<string, unknown>).filter(([, e]) => e !== undefined);
    return `{\n${entries.map(([k, e]) => `${inner}${JSON.stringify(k)}: ${walk(e, inner)}`).join(',\n')}\n${indent}}`;
  };
  return `${walk(v, '')}\n`;
}

/** How each file is laid out on disk. */
const fileText = (name: string, v: unknown): string => (name.startsWith('billing') ? compactVectorText(v) : vectorText(v));

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, v] of Object.entries(buildAll())) {
    writeFileSync(new URL(name, pathToFileURL(VECTORS_DIR)), fileText(name, v));
    process.stdout.write(`wrote ${VECTORS_DIR}${name}\n`);
  }
}
