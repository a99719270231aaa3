/**
 * Audit: replay a chain from genesis and check everything that can be checked: hash
 * chain, Merkle roots, commit certificates, every transaction's signature and the
 * state rules, all by validateBlock (blocks/validate.ts), as consensus and sync check
 * them. ChainAuditor takes blocks in order from anywhere (the store, or a running
 * gateway's read API); auditStore also checks, through the store's interface, what the
 * store derives from the blocks (head pointer, state records, reading index, write-ahead).
 *
 * Given other copies of the chain (a receipt from another gateway, another store, another
 * gateway's read API) it also compares every height both hold: two different blocks with
 * valid commit certificates at one height are a fork, E_CHAIN_FORK. One copy alone cannot
 * show a fork: each side of one is a valid chain.
 */
import {
  type BlockHeader, type CommitCertificate, type Genesis, type StateChange, decodeBlock, decodeCommit, commitProblem, equalBytes, genesisHash, headerHash, scheduleFromState,
  ProofCode, readingWindow, seqWindowOf, StateKind, toHex, TxType, encodeCbor,
  ledgerChain,
} from '../protocols/index.js';
import { MoneyAudit } from './audit-money.js';
import { InvalidBlockError, validateBlock } from './blocks/validate.js';
import { SignatureVerifier } from './crypto/verifier.js';
import { dataPaths } from './devchain.js';
import type { TxContext } from './signatures.js';
import { ChainState } from './state/layers.js';
import { CommittedReadings, indexEntry } from './state/ledger.js';
import { genesisMeters, operatorsOf } from './state/meter.js';
import { decodeStateValue, encodeStateValue } from './store/codec.js';
import { LevelStore } from './store/level.js';
import { legacyWriteAhead } from './store/migrate-0.1.js';
import type { LedgerStore } from './store/store.js';
import { readWriteAhead } from './store/wal.js';
import { WriteAheadError, replayWriteAhead } from './store/wal-recovery.js';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(readonly height: number, readonly reason: string, readonly code?: string) {
    super(`height ${height}: ${reason}`);
  }
}

/** Two blocks with valid commit certificates at one height. */
export const CHAIN_FORK = 'E_CHAIN_FORK';

export type AuditResult =
  | { readonly ok: true; readonly height: number; readonly txs: number; readonly notes?: readonly string[]; readonly money?: string }
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
export function compareAt(
  genesis: Genesis, height: number, ours: { hash: Uint8Array; commit: CommitCertificate }, theirs: Certified | undefined, source: string,
  validators: Genesis['validators'] = genesis.validators, // the set of `height` (docs/protocol.md §13.4)
): void {
  if (!theirs) return;
  const hash = headerHash(theirs.header);
  if (equalBytes(hash, ours.hash)) return;
  const problem = theirs.header.height !== height ? `it is a block of height ${theirs.header.height}` : commitProblem({ chainId: genesis.chainId, validators }, theirs.header, theirs.commit);
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
  private headTime: number | undefined;
  /** The state the blocks produce, as of the last block added. */
  readonly state: ChainState;
  readonly txctx: TxContext & { genesis: Genesis };
  /** Where each committed reading is, when `trackReadings` (for the store's index check). */
  readonly positions = new Map<string, string>();
  /** Where each committed transaction is, by hash (hex), when `trackReadings` (the transaction index check). */
  readonly txPositions = new Map<string, string>();
  private readonly bills: CommittedReadings;
  /** The money's invariants, block by block (./audit-money.ts). */
  readonly money = new MoneyAudit();

  constructor(
    private readonly genesis: Genesis,
    verifier: SignatureVerifier = new SignatureVerifier(0),
    private readonly trackReadings = false,
    /** Other copies of the chain, compared at each height as it is checked. */
    private readonly witnesses: readonly ChainWitness[] = [],
  ) {
    this.headHash = genesisHash(genesis);
    this.state = new ChainState(genesisMeters(genesis));
    // The readings bills need, from the blocks audited (not the store's index, which is checked against them).
    this.bills = new CommittedReadings();
    this.txctx = {
      genesis, chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis), operators: operatorsOf(genesis), verifier,
      ledger: ledgerChain(genesis, this.bills, undefined, this.bills.sealed), bills: this.bills, valset: { chainId: genesis.chainId, genesis: genesis.validators },
    };
  }

  get head(): { height: number; time: number } {
    return { height: this.height, time: this.headTime ?? 0 };
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
    let commit;
    try {
      commit = decodeCommit(commitBytes);
    } catch (e) {
      return fail(`commit does not decode: ${(e as Error).message}`);
    }
    let checked;
    try {
      checked = await validateBlock(this.txctx, { height: this.height, hash: this.headHash, time: this.headTime }, this.state.committed, block, { commit });
    } catch (e) {
      return fail(e instanceof InvalidBlockError ? e.reason : String(e));
    }
    const hash = headerHash(block.header);
    const set = scheduleFromState(this.genesis.validators, this.state.committed).at(h);
    for (const w of this.witnesses) compareAt(this.genesis, h, { hash, commit }, await w.at(h), w.source, set);
    const money = this.money.block(this.state.committed, checked.decoded, checked.changes);
    if (money) throw new AuditError(h, money.reason, money.code);
    this.state.commit(checked.changes);
    this.bills.add(checked.decoded.flatMap((tx, index) => (tx.body.type === TxType.Reading ? [indexEntry(tx.body, h, index)] : [])), checked.decoded);
    if (this.trackReadings) {
      checked.decoded.forEach((tx, i) => this.txPositions.set(tx.hashHex, `${h}:${i}`));
      checked.decoded.forEach((tx, i) => {
        if (tx.body.type === TxType.Reading) this.positions.set(seqKey(tx.body.meterId, tx.body.seq), positionOf(indexEntry(tx.body, h, i)));
      });
    }
    this.height = h;
    this.headHash = hash;
    this.headTime = block.header.time;
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
  const store = await LevelStore.open(dataPaths(dataDir).store, { readOnly: true });
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
  const store = await LevelStore.open(paths.store, {
    readOnly: true,
    onCopy: (c) => onNotice?.(`the store cannot be opened in place (${c.why}): auditing a copy in ${c.to} (${(c.bytes / 1e6).toFixed(1)} MB, removed afterwards)`),
  });
  try {
    return await auditLedgerStore(store, paths.wal, genesis, onProgress, witnesses);
  } finally {
    await store.close();
  }
}

/** Audit an open store (any LedgerStore) and the write-ahead in `walDir`. */
export async function auditLedgerStore(store: LedgerStore, walDir: string, genesis: Genesis, onProgress?: (done: number, total: number) => void, witnesses: readonly ChainWitness[] = []): Promise<AuditResult> {
  const verifier = new SignatureVerifier(2);
  try {
    return await auditOpenStore(store, walDir, genesis, verifier, onProgress, witnesses);
  } catch (e) {
    if (e instanceof AuditError) return { ok: false, height: e.height, reason: e.reason, ...(e.code ? { code: e.code } : {}) };
    throw e;
  } finally {
    await verifier.close();
  }
}

async function auditOpenStore(
  store: LedgerStore, walDir: string, genesis: Genesis, verifier: SignatureVerifier, onProgress: ((done: number, total: number) => void) | undefined, witnesses: readonly ChainWitness[],
): Promise<AuditResult> {
  const g = await store.genesisHash();
  if (!g || !equalBytes(g, genesisHash(genesis))) throw new AuditError(0, 'the store does not belong to this genesis');
  let head: { height: number; hash: Uint8Array } | undefined;
  try {
    head = await store.head();
  } catch (e) {
    throw new AuditError(0, (e as Error).message);
  }
  const total = head?.height ?? 0;
  const auditor = new ChainAuditor(genesis, verifier, true, witnesses);
  for await (const { height: h, bytes: blockBytes } of store.blocks()) {
    if (h !== auditor.height + 1) throw new AuditError(auditor.height + 1, `block ${auditor.height + 1} is missing (next stored is ${h})`);
    const commitBytes = await store.commitBytes(h);
    if (!commitBytes) throw new AuditError(h, 'commit certificate is missing');
    await auditor.add(blockBytes, commitBytes);
    onProgress?.(h, Math.max(total, h)); // cheap: the bar draws at most every 100 ms
  }
  const top = auditor.height;
  for await (const h of store.commitHeights()) {
    if (h > top) throw new AuditError(h, 'commit certificate without a block');
  }
  if (!head ? top !== 0 : head.height !== top || !equalBytes(head.hash, auditor.headHash)) {
    throw new AuditError(top, `head pointer says height ${head?.height ?? 0} hash ${head ? toHex(head.hash) : '-'}, blocks end at ${top} hash ${toHex(auditor.headHash)}`);
  }

  // The state records the store keeps must be those the blocks produce, kind by kind.
  const seen = new Set<string>();
  const records = (async function* () {
    try {
      yield* store.stateRecords();
    } catch (e) {
      throw new AuditError(top, `state: ${(e as Error).message}`);
    }
  })();
  for await (const r of records) {
    seen.add(`${r.kind}\u0000${r.id}`);
    const want = auditor.state.committed.get(r.kind, r.id);
    const what = r.kind === 'meter' ? `registry: meter "${r.id}"` : `state: ${r.kind} "${r.id}"`;
    const code = MONEY_CODES[r.kind];
    if (want === undefined) throw new AuditError(top, `${what} is stored but no block or genesis makes it`, code);
    if (!sameValue(r, want)) throw new AuditError(top, `${what}: the stored record differs from the chain${(r.kind === 'meter' ? '' : moneyDiff(r, want)) || fieldDiff(r, want)}`, code);
  }
  for (const kind of auditor.state.kinds()) {
    for (const id of auditor.state.ids(kind)) {
      if (!seen.has(`${kind}\u0000${id}`)) throw new AuditError(top, `${kind === 'meter' ? 'registry: meter' : `state: ${kind}`} "${id}" is missing from the store`, MONEY_CODES[kind]);
    }
  }

  // The reading index must list exactly the committed readings, at their places, with their times and registers.
  let indexed = 0;
  const index = (async function* () {
    try {
      yield* store.readingIndex();
    } catch (e) {
      throw new AuditError(top, (e as Error).message);
    }
  })();
  for await (const pos of index) {
    const { meterId, seq } = pos;
    const want = auditor.positions.get(seqKey(meterId, seq));
    if (want === undefined) throw new AuditError(top, `index: ${meterId}/${seq} is indexed but not in any block`);
    const got = positionOf(pos);
    if (want !== got) throw new AuditError(pos.height, `index: ${meterId}/${seq} says ${got} (height:index:time:importWh:exportWh), the chain has ${want}`);
    indexed++;
  }
  if (indexed !== auditor.positions.size) throw new AuditError(top, `index: ${auditor.positions.size - indexed} committed readings are not indexed`);

  // The reading history (by time, what bills load) must hold the same readings, each once.
  const inHistory = new Set<string>();
  const history = (async function* () {
    try {
      yield* store.readingHistoryIndex();
    } catch (e) {
      throw new AuditError(top, (e as Error).message);
    }
  })();
  for await (const pos of history) {
    const { meterId, seq } = pos;
    const k = seqKey(meterId, seq);
    const want = auditor.positions.get(k);
    if (want === undefined) throw new AuditError(top, `reading history: ${meterId}/${seq} is there but not in any block`);
    const got = positionOf(pos);
    if (want !== got) throw new AuditError(pos.height, `reading history: ${meterId}/${seq} says ${got} (height:index:time:importWh:exportWh), the chain has ${want}`);
    if (inHistory.has(k)) throw new AuditError(pos.height, `reading history: ${meterId}/${seq} is there twice`);
    inHistory.add(k);
  }
  if (inHistory.size !== auditor.positions.size) throw new AuditError(top, `reading history: ${auditor.positions.size - inHistory.size} committed readings are not in it`);

  // The transaction index must list exactly the committed transactions, at their places.
  let txIndexed = 0;
  try {
    for await (const t of store.txIndex()) {
      const hex = toHex(t.hash);
      const want = auditor.txPositions.get(hex);
      if (want === undefined) throw new AuditError(top, `transaction index: ${hex} is indexed but not in any block`);
      if (want !== `${t.height}:${t.index}`) throw new AuditError(t.height, `transaction index: ${hex} says ${t.height}:${t.index}, the chain has it at ${want}`);
      txIndexed++;
    }
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError(top, (e as Error).message);
  }
  if (txIndexed !== auditor.txPositions.size) throw new AuditError(top, `transaction index: ${auditor.txPositions.size - txIndexed} committed transactions are not indexed`);

  // Accepted, not yet committed transactions (the write-ahead, and LevelDB entries of an
  // older store not started since) must be signed by their signer: the replay of a start
  // (store/wal-recovery.ts). One that a block superseded (a crash between a commit and
  // the deletion of its segment) is dropped at the next start: not an error.
  let segments;
  try {
    segments = await readWriteAhead(walDir);
  } catch (e) {
    throw new AuditError(top + 1, (e as Error).message);
  }
  try {
    await replayWriteAhead([...(await legacyWriteAhead(store)), ...segments.flatMap((s) => s.entries)], auditor.state, auditor.txctx, auditor.head);
  } catch (e) {
    if (e instanceof WriteAheadError) throw new AuditError(top + 1, e.message);
    throw e;
  }
  // The money as the store holds it (now known to be the chain's): conservation, no negative balance, caps.
  const totals = auditor.money.final(auditor.state);
  if ('code' in totals) throw new AuditError(top, totals.reason, totals.code);

  const notes = witnessNotes(witnesses, top);
  return { ok: true, height: top, txs: auditor.txs, ...(notes.length ? { notes } : {}), ...(totals.summary ? { money: totals.summary } : {}) };
}

/** The code of a stored record of these kinds that differs from the chain. */
const MONEY_CODES: Readonly<Record<string, string>> = {
  [StateKind.Bill]: ProofCode.AUDIT_BILL, [StateKind.Payment]: ProofCode.AUDIT_PAYMENT, [StateKind.Account]: ProofCode.AUDIT_BALANCE,
  [StateKind.Transfer]: ProofCode.AUDIT_BALANCE, [StateKind.Mandate]: ProofCode.AUDIT_CAP,
};

/** What differs in a bill, payment or account record, for the message. */
function moneyDiff(r: StateChange, want: unknown): string {
  const fields = ['total', 'credited', 'amount', 'balance', 'spent', 'account', 'payee'];
  const got = r.value as Record<string, unknown>;
  const exp = want as Record<string, unknown>;
  for (const f of fields) {
    if (got?.[f] !== undefined || exp?.[f] !== undefined) {
      if (String(got?.[f]) !== String(exp?.[f])) return ` (${f} ${String(got?.[f])}, the chain makes ${String(exp?.[f])})`;
    }
  }
  return '';
}

/** The first field (by name) whose value differs between a stored record and the chain's, as " (field stored, the chain makes x)". */
function fieldDiff(r: StateChange, want: unknown): string {
  // Both as the store keeps them (a meter record's encoding holds only some fields).
  const kept = (v: unknown): Record<string, unknown> => (decodeStateValue(r.kind, encodeStateValue(r.kind, v), r.id) ?? {}) as Record<string, unknown>;
  const got = kept(r.value);
  const exp = kept(want);
  const show = (v: unknown): string => (v === undefined ? 'absent' : v instanceof Uint8Array ? toHex(v) : typeof v === 'object' && v !== null ? JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) : String(v));
  for (const f of [...new Set([...Object.keys(got), ...Object.keys(exp)])].sort()) {
    const a = got[f];
    const b = exp[f];
    if (a === undefined && b === undefined) continue;
    if (a === undefined || b === undefined || !equalBytes(encodeCbor(a), encodeCbor(b))) return ` (${f} ${show(a)}, the chain makes ${show(b)})`;
  }
  return '';
}

function sameValue(r: StateChange, want: unknown): boolean {
  return equalBytes(encodeStateValue(r.kind, r.value), encodeStateValue(r.kind, want));
}

/** What the audit compares of an index entry with the chain ("-" for a register a reading lacks or seals). */
function positionOf(p: { height: number; index: number; time: number; importWh?: number; exportWh?: number }): string {
  return `${p.height}:${p.index}:${p.time}:${p.importWh ?? '-'}:${p.exportWh ?? '-'}`;
}
