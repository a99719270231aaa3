/**
 * A receipt checked in the browser with protocols/ alone (docs/portal.md):
 *   1. it decodes (deterministic CBOR) and is for the trusted chain;
 *   2. Merkle inclusion of the transaction in the header's txRoot (RFC 6962 §2.1.1);
 *   3. the commit certificate: precommits of more than 2/3 of genesis voting power;
 *   4. the header is on the hash chain from the trusted genesis (prevHash links, block 1's
 *      prevHash is the genesis hash), each header hashed here, never taken from the server;
 *   5. the meter's COSE_Sign1 signature, with its key from genesis.
 * Anything that cannot be checked is not "verified": the result is failed or unverified.
 */
import { type BlockHeader, commitProblem, headerHash } from '../../../protocols/block.js';
import { equalBytes, fromHex, toHex } from '../../../protocols/bytes.js';
import { sigStructure } from '../../../protocols/cose.js';
import { type Genesis, decodeKey, genesisHash } from '../../../protocols/genesis.js';
import { verifySignature } from '../../../protocols/keys.js';
import { verifyInclusion } from '../../../protocols/merkle.js';
import { type Receipt, decodeReceipt } from '../../../protocols/receipt.js';
import { type Reading, TxType, decodeTx } from '../../../protocols/tx.js';
import { type BlockSummary, getJson } from './api.js';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ReceiptResult {
  /** Every check passed. */
  readonly verified: boolean;
  readonly checks: readonly Check[];
  readonly reading?: Reading;
  readonly receipt?: Receipt;
  readonly txHash?: string;
  readonly blockHash?: string;
}

/** Block hashes verified from genesis upwards, kept for the page's life. */
export class ChainVerifier {
  /** hashes[h] is the verified hash of block h; hashes[0] the genesis hash. */
  private readonly hashes: Uint8Array[];
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly genesis: Genesis) {
    this.hashes = [genesisHash(genesis)];
  }

  /** Verified up to `height` (fetching headers it has not checked yet), else throws saying where the chain breaks. */
  async hashAt(height: number): Promise<Uint8Array> {
    const run = this.busy.then(() => this.extend(height));
    this.busy = run.catch(() => undefined);
    await run;
    return this.hashes[height]!;
  }

  private async extend(height: number): Promise<void> {
    while (this.hashes.length <= height) {
      const from = this.hashes.length;
      // The listing goes newest first from `from` downwards: ask for the page whose lowest block is `from`.
      const top = Math.min(from + 99, Math.max(height, from));
      const page = await getJson<{ blocks: BlockSummary[] }>(`/api/v1/blocks?from=${top}&limit=${top - from + 1}`);
      const blocks = [...page.blocks].sort((a, b) => a.height - b.height);
      if (blocks.length === 0 || blocks[0]!.height !== from) throw new Error(`the gateway did not list block ${from}`);
      for (const b of blocks) {
        const h = this.hashes.length;
        if (b.height !== h) throw new Error(`asked for block ${h}, got ${b.height}`);
        const header: BlockHeader = {
          chainId: b.chainId, height: b.height, time: b.time, prevHash: fromHex(b.prevHash, 'prevHash'),
          txRoot: fromHex(b.txRoot, 'txRoot'), txCount: b.txCount, proposer: b.proposer,
        };
        if (header.chainId !== this.genesis.chainId) throw new Error(`block ${h} is for chain "${header.chainId}"`);
        if (!equalBytes(header.prevHash, this.hashes[h - 1]!)) throw new Error(`block ${h} does not link to block ${h - 1}`);
        this.hashes.push(headerHash(header));
        if (h >= height) break;
      }
    }
  }
}

export interface Expect {
  readonly meterId?: string;
  readonly seq?: bigint;
}

export async function verifyReceiptBytes(genesis: Genesis, chain: ChainVerifier, bytes: Uint8Array, expect: Expect = {}): Promise<ReceiptResult> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    return ok;
  };
  let r: Receipt;
  try {
    r = decodeReceipt(bytes);
  } catch (e) {
    add('receipt decodes', false, (e as Error).message);
    return { verified: false, checks };
  }
  let tx;
  try {
    tx = decodeTx(r.tx, genesis.params.maxTxBytes);
  } catch (e) {
    add('receipt decodes', false, `transaction: ${(e as Error).message}`);
    return { verified: false, checks, receipt: r };
  }
  const body = tx.body;
  const blockHash = headerHash(r.header);
  const base = { receipt: r, txHash: toHex(tx.hash), blockHash: toHex(blockHash) };
  if (body.type !== TxType.Reading) {
    add('receipt decodes', false, 'the transaction is not a reading');
    return { verified: false, checks, ...base };
  }
  add('receipt decodes', true, `reading ${body.seq} of ${body.meterId}`);
  const forChain = r.chainId === genesis.chainId && r.header.chainId === genesis.chainId;
  add('chain', forChain, forChain ? `chain "${genesis.chainId}"` : `receipt is for chain "${r.chainId}", the trusted genesis is "${genesis.chainId}"`);
  if (expect.meterId !== undefined || expect.seq !== undefined) {
    const same = (expect.meterId === undefined || body.meterId === expect.meterId) && (expect.seq === undefined || body.seq === expect.seq);
    add('the reading asked for', same, same ? `meter ${body.meterId}, seq ${body.seq}` : `asked for ${expect.meterId} seq ${expect.seq}, got ${body.meterId} seq ${body.seq}`);
  }
  const included = verifyInclusion(r.tx, r.index, r.header.txCount, r.proof, r.header.txRoot);
  add('Merkle proof', included, included ? `leaf ${r.index} of ${r.header.txCount} leads to the block's txRoot` : 'the inclusion proof does not lead to the block\'s txRoot');
  const problem = commitProblem(genesis, r.header, r.commit);
  add('commit certificate', problem === undefined, problem ?? `${r.commit.signatures.length} validator signatures, more than 2/3 of genesis power`);
  try {
    const h = await chain.hashAt(r.header.height);
    const on = equalBytes(h, blockHash);
    add('hash chain to genesis', on, on ? `block ${r.header.height} links back to the trusted genesis` : `block ${r.header.height} is not the one on the chain from genesis`);
  } catch (e) {
    add('hash chain to genesis', false, (e as Error).message);
  }
  const m = genesis.meters.find((x) => x.id === body.meterId);
  if (!m) {
    add('meter signature', false, `meter ${body.meterId} is not in genesis: its key cannot be checked here yet`);
  } else {
    const k = decodeKey(m);
    const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId);
    const ok = k.alg === tx.cose.alg && verifySignature(k.alg, k.publicKey, msg, tx.cose.signature);
    add('meter signature', ok, ok ? `signed by ${body.meterId}'s genesis key (${m.alg})` : `the signature is not ${body.meterId}'s genesis key`);
  }
  return { verified: checks.every((c) => c.ok), checks, reading: body, ...base };
}

/** Fetch the receipt of meter+seq as JSON and check its exact CBOR (the `cbor` field). */
export async function fetchAndVerify(genesis: Genesis, chain: ChainVerifier, meterId: string, seq: bigint): Promise<ReceiptResult> {
  const j = await getJson<{ cbor: string }>(`/api/v1/meters/${encodeURIComponent(meterId)}/receipts/${seq}`);
  let bytes: Uint8Array;
  try {
    bytes = fromHex(String(j.cbor), 'cbor');
  } catch (e) {
    return { verified: false, checks: [{ name: 'receipt decodes', ok: false, detail: (e as Error).message }] };
  }
  return verifyReceiptBytes(genesis, chain, bytes, { meterId, seq });
}
