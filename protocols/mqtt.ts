/**
 * What a meter sees of MQTT: topic names, CONNECT credentials over plain TCP, and the
 * messages on its receipts topic.
 */
import { decodeCanonicalCbor, encodeCbor, textKeyMapEncoder } from './cbor.js';
import { fromHex, toHex } from './bytes.js';
import type { ReasonCode } from './errors.js';
import { type Alg, signMessage, verifySignature } from './keys.js';
import { type Receipt, encodeReceipt, receiptFromCbor } from './receipt.js';
import { ProtocolError } from './errors.js';
import { compactReceiptFromCbor, compactReceiptOf, encodeCompactReceipt } from './compact-receipt.js';
import type { CommittedReading } from './intake.js';

export const readingsTopic = (meterId: string): string => `meters/${meterId}/readings`;
export const receiptsTopic = (meterId: string): string => `meters/${meterId}/receipts`;
/** Where a meter asks for a full receipt (docs/protocol.md §8.3.2); the answer comes on its receipts topic. */
export const receiptRequestTopic = (meterId: string): string => `meters/${meterId}/receipts/get`;

/** `meters/<id>/<leaf>` split into its parts, or undefined for any other topic. */
export function parseMeterTopic(topic: string): { meterId: string; leaf: string } | undefined {
  const m = /^meters\/([^/+#]+)\/([^/+#]+)$/.exec(topic);
  return m ? { meterId: m[1]!, leaf: m[2]! } : undefined;
}

/** Prefix of the CONNECT password of a meter on plain TCP. */
export const TOKEN_PREFIX = 'ml1';

/** The bytes a meter signs to connect: binds chain, meter, MQTT client id and time. */
export function connectTokenSignBytes(chainId: string, meterId: string, clientId: string, timeMs: number): Uint8Array {
  return encodeCbor(['meterledger/connect/v1', chainId, meterId, clientId, timeMs]);
}

/** CONNECT password: `ml1.<time ms>.<hex signature>`; the username is the meter id. */
export function makeConnectToken(chainId: string, meterId: string, clientId: string, timeMs: number, alg: Alg, secretKey: Uint8Array): string {
  const sig = signMessage(alg, secretKey, connectTokenSignBytes(chainId, meterId, clientId, timeMs));
  return `${TOKEN_PREFIX}.${timeMs}.${toHex(sig)}`;
}

export type TokenCheck = { ok: true } | { ok: false; reason: string };

/** Check a CONNECT token against the meter's key, its client id and the clock. */
export function checkConnectToken(
  token: string, chainId: string, meterId: string, clientId: string,
  alg: Alg, publicKey: Uint8Array, nowMs: number, maxAgeMs: number,
  verify: (alg: Alg, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean = verifySignature,
): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !/^\d{1,16}$/.test(parts[1]!) || !/^[0-9a-f]{128}$/.test(parts[2]!)) {
    return { ok: false, reason: 'token is not ml1.<time>.<signature>' };
  }
  const t = Number(parts[1]);
  if (Math.abs(nowMs - t) > maxAgeMs) return { ok: false, reason: 'token expired or from the future' };
  const ok = verify(alg, publicKey, connectTokenSignBytes(chainId, meterId, clientId, t), fromHex(parts[2]!));
  return ok ? { ok: true } : { ok: false, reason: 'token signature does not verify with the meter key' };
}

/**
 * Messages on `meters/<id>/receipts` (docs/protocol.md §8.3). A committed reading goes
 * out compact (§8.3.1: integer labels, no `receipt`) unless the meter gets full receipts
 * or asked for one (§8.3.2): then the text-keyed map with the receipt of §7 inline.
 * Decoded, both carry index and blockHash; `receipt` only the full one.
 */
export type ReceiptsTopicMessage =
  | { readonly status: 'rejected'; readonly txHash: Uint8Array; readonly code: ReasonCode; readonly message: string; readonly seq?: bigint }
  | {
    readonly status: 'committed'; readonly txHash: Uint8Array; readonly seq: bigint; readonly height: number;
    readonly index: number; readonly blockHash: Uint8Array; readonly receipt?: Receipt;
  };

/** The receipts-topic message of a committed reading: compact, or with its full receipt. */
export function committedMessage(c: CommittedReading, full: boolean): ReceiptsTopicMessage {
  const compact = compactReceiptOf(c.receipt, c.seq, c.txHash);
  return { status: 'committed', ...compact, ...(full ? { receipt: c.receipt } : {}) };
}

const committedMap = textKeyMapEncoder(['status', 'txHash', 'seq', 'height', 'receipt']);
const COMMITTED = encodeCbor('committed');

export function encodeReceiptsTopicMessage(m: ReceiptsTopicMessage): Uint8Array {
  if (m.status === 'rejected') {
    return encodeCbor({ status: m.status, txHash: m.txHash, code: m.code, message: m.message, ...(m.seq !== undefined ? { seq: m.seq } : {}) });
  }
  if (m.receipt === undefined) return encodeCompactReceipt(m);
  // The receipt is spliced in as encoded (the block's shared parts once per block).
  return committedMap({ status: COMMITTED, txHash: encodeCbor(m.txHash), seq: encodeCbor(m.seq), height: encodeCbor(m.height), receipt: encodeReceipt(m.receipt) });
}

export function decodeReceiptsTopicMessage(bytes: Uint8Array): ReceiptsTopicMessage {
  const bad = (msg: string): never => {
    throw new ProtocolError('E_RECEIPT_MALFORMED', msg);
  };
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new ProtocolError('E_RECEIPT_MALFORMED', 'message is not deterministic CBOR', { cause });
  }
  if (!(m instanceof Map)) return bad('message must be a map');
  // Integer labels: a compact receipt (§8.3.1); text keys: the other messages.
  if (m.has(0)) return { status: 'committed', ...compactReceiptFromCbor(m) };
  const txHash = m.get('txHash');
  if (!(txHash instanceof Uint8Array) || txHash.length !== 32) return bad('txHash must be 32 bytes');
  const seqRaw = m.get('seq');
  const seq = (typeof seqRaw === 'number' && Number.isSafeInteger(seqRaw) && seqRaw >= 0) || typeof seqRaw === 'bigint' ? BigInt(seqRaw) : undefined;
  if (m.get('status') === 'rejected') {
    const code = m.get('code');
    const message = m.get('message');
    if (typeof code !== 'string' || typeof message !== 'string') return bad('rejection needs code and message');
    return { status: 'rejected', txHash, code: code as ReasonCode, message, ...(seq !== undefined ? { seq } : {}) };
  }
  if (m.get('status') === 'committed') {
    const height = m.get('height');
    if (seq === undefined || typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) return bad('committed message needs seq and height');
    const receipt = receiptFromCbor(m.get('receipt'));
    return { status: 'committed', txHash, seq, height, index: receipt.index, blockHash: receipt.commit.blockHash, receipt };
  }
  return bad('status must be rejected or committed');
}
