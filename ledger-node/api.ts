/**
 * The node's surface as gateway/ sees it. LedgerNode (./node.ts) implements LedgerApi.
 */
import { availableParallelism } from 'node:os';
import type { BillBundle, BillIssue, BlockHeader, CommitCertificate, Genesis, IntakePort, Receipt, StateChange, StateKind, SubmitResult } from '../protocols/index.js';
import type { NodeMetrics } from './metrics.js';
import type { Timeouts } from './consensus/types.js';
import type { ProposalRewrite } from './blocks/byzantine-bill.js';
import type { Carrier } from './p2p/carrier.js';
import type { StoreOpener } from './store/store.js';

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The defaults of NodeOptions, written once: node.ts applies them, gateway/config.ts shows them. */
export const NODE_DEFAULTS = {
  blockIntervalMs: 1000,
  blockMaxTxs: 2000,
  maxPastMs: 7 * 86_400_000,
  maxFutureMs: 300_000,
  maxBacklog: 100_000,
  meterRatePerSecond: 50,
  meterBurst: 500,
  verifyWorkers: (): number => availableParallelism(),
} as const;

/** Optional settings default to NODE_DEFAULTS. */
export interface NodeOptions {
  /** Folder of the node: store/ (LevelDB) and keys/ live below it. */
  readonly dataDir: string;
  readonly genesis: Genesis;
  /**
   * This node's validator id when its key is in no genesis list nor yet in the committed
   * sets: a validator added by a set change (docs/protocol.md §13) starting from an empty
   * store. It syncs, and votes from the first height whose set holds this id with its key.
   */
  readonly nodeId?: string;
  /** Opens the store at <dataDir>/store. Default: LevelDB (store/level.ts); tests pass MemoryStore.opener(). */
  readonly openStore?: StoreOpener;
  /** Cut a block at least this often while readings wait (ms). */
  readonly blockIntervalMs?: number;
  /** Cut a block as soon as this many transactions wait (at most genesis maxBlockTxs). */
  readonly blockMaxTxs?: number;
  /** A reading's time may be this far behind the gateway's clock (ms). */
  readonly maxPastMs?: number;
  /** A reading's time may be this far ahead of the gateway's clock (ms). */
  readonly maxFutureMs?: number;
  /** Accepted but not yet committed transactions allowed before E_GATEWAY_BUSY. */
  readonly maxBacklog?: number;
  /** Readings per second one meter may send on average (0: no limit). */
  readonly meterRatePerSecond?: number;
  /** Readings one meter may send at once before its rate applies. */
  readonly meterBurst?: number;
  /** Signature-verification worker threads (default: the number of CPUs); 0 verifies on the main thread. */
  readonly verifyWorkers?: number;
  /**
   * How to reach the other gateways of the chain over NATS. Required when genesis has
   * more than one validator or this node is an observer; a lone validator needs none.
   */
  readonly nats?: NatsOptions;
  /**
   * A carrier instead of NATS (in-process tests, ledger-node/p2p/memory.ts); takes
   * precedence over `nats`. The node runs its peer layer over it as over NATS.
   */
  readonly carrier?: Carrier;
  /** Consensus round timeouts (ms); defaults suit a LAN or one machine. */
  readonly timeouts?: Timeouts;
  readonly metrics?: NodeMetrics;
  readonly logger?: Logger;
  /** The clock, injectable for tests. */
  readonly now?: () => number;
  /** TEST ONLY: a Byzantine proposer (blocks/byzantine-bill.ts). */
  readonly proposalRewrite?: ProposalRewrite;
}

export interface NatsOptions {
  readonly servers: string[];
  readonly auth?: { user: string; pass: string } | { token: string } | { nkeySeed: string };
  readonly tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Use only `servers`, not the addresses the cluster advertises (NATS behind a proxy or NAT). */
  readonly ignoreClusterUpdates?: boolean;
  /** Dialling backoff, ms: first wait (and nats.js's wait per server) and longest wait. Default DEFAULT_RECONNECT (p2p/defaults.ts). */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number };
  /** Peer envelopes dated further than this from our clock are refused, ms. Default DEFAULT_WINDOW_MS (p2p/peers.ts). */
  readonly messageWindowMs?: number;
  /** Durable gossip on JetStream (ledger-node/p2p/jetstream.ts); on unless `enabled` is false. */
  readonly stream?: { readonly enabled?: boolean; readonly replicas?: number; readonly maxAgeMs?: number; readonly maxBytes?: number };
}

export interface NodeStatus {
  readonly chainId: string;
  readonly role: 'validator' | 'observer';
  readonly validatorId: string | undefined;
  /** This node's id in genesis (validator or observer). */
  readonly nodeId: string;
  /** Consensus round at the height being decided. */
  readonly round: number;
  /** Peers heard from in the last 10 s. */
  readonly peers: readonly string[];
  /** NATS connection state; undefined for a lone validator. */
  readonly natsConnected: boolean | undefined;
  /**
   * The validators heard from lately (this one included) hold more than 2/3 of the voting
   * power, as last counted by consensus (meterledger_consensus_has_quorum); always true
   * for a lone validator.
   */
  readonly hasQuorum: boolean;
  /** How far the highest committed height a peer announced is above this node's (0 if none is). */
  readonly behind: number;
  /** Fetching blocks from peers: more than one block behind (one is a commit in flight). */
  readonly syncing: boolean;
  /**
   * Set while this validator does not vote at the current height, and why: its consensus
   * record (E_CONSENSUS_STATE_CORRUPT ...) could not be restored, so it follows the others.
   */
  readonly stateProblem?: string;
  /**
   * Set once consensus stopped on a failure it cannot recover from (a record not written,
   * a step that threw): "E_CONSENSUS_HALTED: <what failed>". The node signs nothing more
   * and the gateway stops.
   */
  readonly halted?: string;
  readonly height: number;
  /** Hex; the genesis hash while height is 0. */
  readonly headHash: string;
  readonly headTime: number | undefined;
  /** Accepted, not yet committed. */
  readonly pending: number;
  readonly meters: number;
}

export interface StoredBlock {
  readonly header: BlockHeader;
  readonly hash: Uint8Array;
  readonly txs: readonly Uint8Array[];
  readonly commit: CommitCertificate;
}

export interface MeterView {
  readonly meterId: string;
  readonly alg: string;
  readonly publicKey: string;
  readonly keyEpoch: number;
  readonly revoked: boolean;
  readonly owner?: string;
  readonly jid?: string;
  /** Highest committed sequence number, as a decimal string ("0" if none). */
  readonly lastSeq: string;
}

export interface ReadingView {
  readonly meterId: string;
  readonly seq: string;
  readonly time: number;
  /** Absent for a sealed reading: its values are in `sealed`, for its recipients (docs/protocol.md §11.4). */
  readonly importWh?: number;
  readonly exportWh?: number;
  readonly powerW?: number;
  readonly height: number;
  readonly index: number;
  readonly txHash: string;
  /** A sealed reading: the hex of its transaction bytes, as committed (`meterledger reading decrypt` opens it). */
  readonly sealed?: string;
}

/** A committed bill transaction (type 13) with where it is. */
export interface CommittedBill {
  readonly body: BillIssue;
  readonly txHash: string;
  readonly height: number;
  readonly index: number;
  /** The transaction as committed. */
  readonly bytes: Uint8Array;
}

export interface LedgerApi {
  readonly genesis: Genesis;
  readonly intake: IntakePort;
  /** Submit any transaction (reading or operator transaction) from a trusted local caller. */
  submitTx(bytes: Uint8Array): Promise<SubmitResult>;
  status(): NodeStatus;
  getBlock(height: number): Promise<StoredBlock | undefined>;
  /** The encoded block and commit, as stored (for remote audit). */
  getBlockBytes(height: number): Promise<{ block: Uint8Array; commit: Uint8Array } | undefined>;
  getReceipt(meterId: string, seq: bigint): Promise<Receipt | undefined>;
  /** The receipt of any committed transaction, by the SHA-256 of its bytes (docs/protocol.md §7.2). */
  getTxReceipt(hash: Uint8Array): Promise<Receipt | undefined>;
  /** Receipts of a meter's registry transactions (register, rotate, revoke: docs/protocol.md §3.6), in chain order. */
  meterKeyReceipts(meterId: string): Promise<Receipt[]>;
  /** The bundle of a committed bill (docs/billing.md §22), or undefined when the meter has no bill for the period. */
  getBillBundle(meterId: string, period: string): Promise<BillBundle | undefined>;
  /** Receipts of the meter's period key transactions (docs/protocol.md §11.6), chain order; only keyId's when given. */
  periodKeyReceipts(meterId: string, keyId?: Uint8Array): Promise<Receipt[]>;
  getMeter(meterId: string): MeterView | undefined;
  listMeters(): MeterView[];
  /** Committed readings of a meter with seq >= fromSeq, ascending, at most `limit`. */
  readings(meterId: string, fromSeq: bigint, limit: number): Promise<ReadingView[]>;
  /**
   * A committed record of the ledger state (docs/billing.md §13.4: account, tariff,
   * agreement, bill, mandate, payment, dispute ...), as the rules wrote it; undefined when none.
   */
  record(kind: StateKind, id: string): unknown;
  /** Ids of the committed records of `kind`, sorted; those starting with `prefix` when given. */
  recordIds(kind: StateKind, prefix?: string): string[];
  /** The committed bill of (meter, period), line items included, read from its block. */
  committedBill(meterId: string, period: string): Promise<CommittedBill | undefined>;
  /** True once the node is open and producing blocks. */
  ready(): boolean;
  /** Receipts of the account's deposits, withdrawals and the payments of the bills it pays, oldest first. */
  accountMoneyReceipts?(account: string): Promise<Receipt[]>;
  /** Told of every committed block after it is applied (the account event stream); returns an unsubscribe. */
  onBlock?(listener: (b: { readonly height: number; readonly changes: readonly StateChange[] }) => void): () => void;
  /** Resolves if the node stopped working on a failure it cannot recover from (consensus halted); the process should stop. */
  readonly failed?: Promise<Error>;
  close(): Promise<void>;
}
