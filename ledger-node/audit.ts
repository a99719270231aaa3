/**
 * Audit: replay a chain from genesis and check everything that can be checked: hash
 * chain, Merkle roots, commit certificates, every transaction's signature and the
 * registry rules. ChainAuditor takes blocks in order from anywhere (the store, or a
 * running gateway's read API); auditStore also checks what the store derives from the
 * blocks (head pointer, registry, reading index, write-ahead).
 *
 * Given other copies of the chain (a receipt from another gateway, another store, another
 * gateway's read API) it also compares every height both hold: two different blocks with
 * valid commit certificates at one height are a fork, E_CHAIN_FORK. One copy alone cannot
 * show a fork: each side of one is a valid chain.
 */
import {
  type BlockHeader, type CommitCertificate, type Genesis, decodeBlock, decodeCommit, decodeTx, commitProblem, equalBytes, genesisHash, headerHash,
  merkleRoot, readingWindow, seqWindowOf, sigStructure, toHex, TxType,
} from '../protocols/index.js';
import { SignatureVerifier } from './crypto/verifier.js';
import { dataPaths } from './devchain.js';
import { type MeterRecord, applyTx, genesisMeters, operatorsOf, requiredSigner, sameRecord } from './rules.js';
import { InvalidTxError, type TxContext, checkTxs } from './validate.js';
import { decodeHead, decodeIndexEntry, decodeMeterRecord } from './store/codec.js';
import { Keys, heightOfKey, meterIdOfMeterKey, meterIdOfReadingKey, seqOfReadingKey } from './store/keys.js';
import { LedgerStore } from './store/store.js';
import { readWriteAhead } from './store/wal.js';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(readonly height: number, readonly reason: string, readonly code?: string) {
    super(`height ${height}: ${reason}`);
  }
}

/** Two blocks with valid commit certificates at one height. */
export const CHAIN_FORK = 'E_CHAIN_FORK';

export type AuditResult =
  | { readonly ok: true; readonly height: number; readonly txs: number; readonly notes?: readonly string[] }
  | { readonly ok: false; readonly height: number; readonly reason: string; readonly code?: string };

/** A block with its certificate, as another copy of the chain holds it. */
export interface Certified {
  readonly header: BlockHeader;
  readonly commit: CommitCertificate;
}

/**
 * Another copy of the chain to compare with, height by height: a receipt (one height),
 * another store, another gateway. `at(h)` is undefined where it has no block.
 */
export interface ChainWitness {
  /** Where it comes from, for messages: "receipt r.cbor", "store /data2" ... */
  readonly source: string;
  /** What it holds: every height up to `height` (a copy of the chain), or only `heights` (a receipt). */
  readonly height?: number;
  readonly heights?: readonly number[];
  at(height: number): Promise<Certified | undefined> | Certified | undefined;
}

/**
 * Compare a witness's block at `height` with ours (`ours`, already checked). The same
 * block, or none: fine. Another block with a valid certificate: E_CHAIN_FORK naming both.
 * Another block whose certificate does not check: that copy is damaged, not a fork.
 */
export function compareAt(genesis: Genesis, height: number, ours: { hash: Uint8Array; commit: CommitCertificate }, theirs: Certified | undefined, source: string): void {
  if (!theirs) return;
  const hash = headerHash(theirs.header);
  if (equalBytes(hash, ours.hash)) return;
  const problem = theirs.header.height !== height ? `it is a block of height ${theirs.header.height}` : commitProblem(genesis, theirs.header, theirs.commit);
  if (problem) throw new AuditError(height, `${source} holds another block, ${toHex(hash)}, without a valid commit certificate: ${problem}`);
  const signers = (c: CommitCertificate) => c.signatures.map((x) => x.validator).sort();
  const both = signers(ours.commit).filter((v) => signers(theirs.commit).includes(v));
  throw new AuditError(height, `two blocks with valid commit certificates at height ${height}: ${toHex(ours.hash)} (this chain, round ${ours.commit.round}, signed by ${signers(ours.commit).join(', ')}) and ${toHex(hash)} (${source}, round ${theirs.commit.round}, signed by ${signers(theirs.commit).join(', ')}); validators in both: ${both.join(', ') || 'none'}`, CHAIN_FORK);
}

const seqKey = (meterId: string, seq: bigint): string => `${meterId}\u0000${seq.toString(16).padStart(16, '0')}`;

export class ChainAuditor {
  height = 0;
  txs = 0;
  headHash: Uint8Array;
  private headTime = 0;
  readonly meters: Map<string, MeterRecord>;
  private readonly operators;
  private readonly txctx: TxContext;
  /** Where each committed reading is, when `trackReadings` (for the store's index check). */
  readonly positions = new Map<string, string>();

  constructor(
    private readonly genesis: Genesis,
    verifier: SignatureVerifier = new SignatureVerifier(0),
    private readonly trackReadings = false,
    /** Other copies of the chain, compared at each height as it is checked. */
    private readonly witnesses: readonly ChainWitness[] = [],
  ) {
    this.headHash = genesisHash(genesis);
    this.meters = genesisMeters(genesis);
    this.operators = operatorsOf(genesis);
    this.txctx = { chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis), operators: this.operators, verifier };
  }

  /** Check the next block; throws AuditError naming the height and what is wrong. */
  async add(blockBytes: Uint8Array, commitBytes: Uint8Array): Promise<void> {
    const h = this.height + 1;
    const fail = (reason: string): never => {
      throw new AuditError(h, reason);
    };
    let block;
    try {
      block = decodeBlock(blockBytes);
    } catch (e) {
      return fail(`block does not decode: ${(e as Error).message}`);
    }
    const hd = block.header;
    if (hd.height !== h) fail(`header says height ${hd.height}`);
    if (hd.chainId !== this.genesis.chainId) fail(`header chain id "${hd.chainId}" is not "${this.genesis.chainId}"`);
    if (!equalBytes(hd.prevHash, this.headHash)) fail(`prevHash ${toHex(hd.prevHash)} is not the hash of block ${h - 1} (${toHex(this.headHash)})`);
    if (hd.time < this.headTime) fail('time goes backwards');
    if (hd.txCount !== block.txs.length) fail(`txCount ${hd.txCount} but ${block.txs.length} transactions`);
    if (block.txs.length > this.genesis.params.maxBlockTxs) fail('more transactions than genesis maxBlockTxs');
    if (!equalBytes(merkleRoot(block.txs), hd.txRoot)) fail('txRoot is not the Merkle root of the transactions');
    let commit;
    try {
      commit = decodeCommit(commitBytes);
    } catch (e) {
      return fail(`commit does not decode: ${(e as Error).message}`);
    }
    const problem = commitProblem(this.genesis, hd, commit);
    if (problem) fail(`commit certificate: ${problem}`);
    const hash = headerHash(hd);
    for (const w of this.witnesses) compareAt(this.genesis, h, { hash, commit }, await w.at(h), w.source);

    let checked;
    try {
      checked = await checkTxs(this.txctx, { meter: (id) => this.meters.get(id) }, block.txs, hd.time);
    } catch (e) {
      return fail(e instanceof InvalidTxError ? e.message : String(e));
    }
    for (const [id, rec] of checked.changed) this.meters.set(id, rec);
    if (this.trackReadings) {
      checked.decoded.forEach((tx, i) => {
        if (tx.body.type === TxType.Reading) this.positions.set(seqKey(tx.body.meterId, tx.body.seq), `${h}:${i}`);
      });
    }
    this.height = h;
    this.headHash = hash;
    this.headTime = hd.time;
    this.txs += block.txs.length;
  }
}

/** What the comparison could not cover: what witnesses hold above the audited chain's height. */
export function witnessNotes(witnesses: readonly ChainWitness[], height: number): string[] {
  const notes: string[] = [];
  for (const w of witnesses) {
    if (w.height !== undefined && w.height > height) {
      notes.push(`${w.source}: ${w.height === height + 1 ? `height ${w.height} is` : `heights ${height + 1}-${w.height} are`} beyond this chain (${height}), not compared`);
    }
    const beyond = (w.heights ?? []).filter((h) => h > height);
    if (beyond.length) notes.push(`${w.source}: height ${beyond.join(', ')} is beyond this chain (${height}), not compared`);
  }
  return notes;
}

/** A copy of the chain in another (stopped) gateway's data dir, as a witness. Close it after. */
export async function storeWitness(dataDir: string): Promise<ChainWitness & { close(): Promise<void> }> {
  const store = await LedgerStore.open(dataPaths(dataDir).store);
  const head = await store.head();
  return {
    source: `store ${dataDir}`,
    height: head?.height ?? 0,
    async at(h) {
      const [b, c] = await Promise.all([store.blockBytes(h), store.commitBytes(h)]);
      return b && c ? { header: decodeBlock(b).header, commit: decodeCommit(c) } : undefined;
    },
    close: () => store.close(),
  };
}

/**
 * Audit a stopped gateway's store. `onProgress(done, total)` is called as blocks are checked.
 * `witnesses` are other copies of the chain to compare with (E_CHAIN_FORK).
 */
export async function auditStore(
  dataDir: string, genesis: Genesis, onProgress?: (done: number, total: number) => void, witnesses: readonly ChainWitness[] = [],
  onNotice?: (line: string) => void,
): Promise<AuditResult> {
  const paths = dataPaths(dataDir);
  // Read-only: the store may be a backup or a snapshot on a read-only mount.
  const store = await LedgerStore.open(paths.store, {
    readOnly: true,
    onCopy: (c) => onNotice?.(`the store cannot be opened in place (${c.why}): auditing a copy in ${c.to} (${(c.bytes / 1e6).toFixed(1)} MB, removed afterwards)`),
  });
  const verifier = new SignatureVerifier(2);
  try {
    return await auditOpenStore(store, paths.wal, genesis, verifier, onProgress, witnesses);
  } catch (e) {
    if (e instanceof AuditError) return { ok: false, height: e.height, reason: e.reason, ...(e.code ? { code: e.code } : {}) };
    throw e;
  } finally {
    await verifier.close();
    await store.close();
  }
}

async function auditOpenStore(
  store: LedgerStore, walDir: string, genesis: Genesis, verifier: SignatureVerifier, onProgress: ((done: number, total: number) => void) | undefined, witnesses: readonly ChainWitness[],
): Promise<AuditResult> {
  const g = await store.genesisHash();
  if (!g || !equalBytes(g, genesisHash(genesis))) throw new AuditError(0, 'the store does not belong to this genesis');
  const headRaw = await store.get(Keys.head);
  let head: { height: number; hash: Uint8Array } | undefined;
  try {
    head = headRaw === undefined ? undefined : decodeHead(headRaw);
  } catch (e) {
    throw new AuditError(0, (e as Error).message);
  }
  const total = head?.height ?? 0;
  const auditor = new ChainAuditor(genesis, verifier, true, witnesses);
  for await (const [k, blockBytes] of store.entries('B')) {
    const h = heightOfKey(k);
    if (h !== auditor.height + 1) throw new AuditError(auditor.height + 1, `block ${auditor.height + 1} is missing (next stored is ${h})`);
    const commitBytes = await store.commitBytes(h);
    if (!commitBytes) throw new AuditError(h, 'commit certificate is missing');
    await auditor.add(blockBytes, commitBytes);
    onProgress?.(h, Math.max(total, h)); // cheap: the bar draws at most every 100 ms
  }
  const top = auditor.height;
  for await (const [k] of store.entries('C')) {
    if (heightOfKey(k) > top) throw new AuditError(heightOfKey(k), 'commit certificate without a block');
  }
  if (!head ? top !== 0 : head.height !== top || !equalBytes(head.hash, auditor.headHash)) {
    throw new AuditError(top, `head pointer says height ${head?.height ?? 0} hash ${head ? toHex(head.hash) : '-'}, blocks end at ${top} hash ${toHex(auditor.headHash)}`);
  }

  // The registry the store keeps must be the one the blocks produce.
  const seen = new Set<string>();
  for await (const [k, v] of store.entries('M')) {
    const id = meterIdOfMeterKey(k);
    seen.add(id);
    let rec: MeterRecord;
    try {
      rec = decodeMeterRecord(v, `meter "${id}"`);
    } catch (e) {
      throw new AuditError(top, `registry: ${(e as Error).message}`);
    }
    const want = auditor.meters.get(id);
    if (!want) throw new AuditError(top, `registry: meter "${id}" is stored but no block or genesis registers it`);
    if (!sameRecord(rec, want)) throw new AuditError(top, `registry: stored record of meter "${id}" differs from the chain (lastSeq ${rec.lastSeq} vs ${want.lastSeq})`);
  }
  for (const id of auditor.meters.keys()) if (!seen.has(id)) throw new AuditError(top, `registry: meter "${id}" is missing from the store`);

  // The reading index must list exactly the committed readings, at their places.
  let indexed = 0;
  for await (const [k, v] of store.entries('I')) {
    const meterId = meterIdOfReadingKey(k);
    const seq = seqOfReadingKey(k);
    const key = seqKey(meterId, seq);
    let pos;
    try {
      pos = decodeIndexEntry(v, `index of ${meterId}/${seq}`);
    } catch (e) {
      throw new AuditError(top, (e as Error).message);
    }
    const want = auditor.positions.get(key);
    if (want === undefined) throw new AuditError(top, `index: ${meterId}/${seq} is indexed but not in any block`);
    if (want !== `${pos.height}:${pos.index}`) throw new AuditError(pos.height, `index: ${meterId}/${seq} points to ${pos.height}:${pos.index}, the chain has it at ${want}`);
    indexed++;
  }
  if (indexed !== auditor.positions.size) throw new AuditError(top, `index: ${auditor.positions.size - indexed} committed readings are not indexed`);

  // Accepted, not yet committed transactions (the write-ahead, and LevelDB entries of an
  // older store not started since) must be signed by their signer. One that a block
  // superseded (a crash between a commit and the deletion of its segment) is dropped at
  // the next start: not an error.
  let segments;
  try {
    segments = await readWriteAhead(walDir);
  } catch (e) {
    throw new AuditError(top + 1, (e as Error).message);
  }
  const view = { meter: (id: string) => auditor.meters.get(id) };
  const operators = operatorsOf(genesis);
  for (const { no, bytes } of [...(await store.loadLegacyPending()), ...segments.flatMap((s) => s.entries)]) {
    let tx;
    let applied;
    let signer;
    try {
      tx = decodeTx(bytes, genesis.params.maxTxBytes);
    } catch (e) {
      throw new AuditError(top + 1, `write-ahead entry ${no}: ${(e as Error).message}`);
    }
    try {
      applied = applyTx(view, tx, seqWindowOf(genesis));
      signer = requiredSigner(view, operators, tx);
    } catch {
      continue; // superseded by a block
    }
    if (!(await verifier.verify(signer.alg, signer.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId), tx.cose.signature))) {
      throw new AuditError(top + 1, `write-ahead entry ${no}: signature does not verify`);
    }
    auditor.meters.set(applied.meterId, applied.next);
  }
  const notes = witnessNotes(witnesses, top);
  return { ok: true, height: top, txs: auditor.txs, ...(notes.length ? { notes } : {}) };
}
