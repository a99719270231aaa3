/**
 * LedgerNode: opens the store, recovers the write-ahead, and wires intake, mempool,
 * verifier, chain writer and consensus (consensus/node-consensus.ts) together. The one object gateway/ holds.
 */
import { existsSync } from 'node:fs';
import {
  type BillBundle, type BillRecord, type Genesis, ProtocolError, ReasonCode, type ReadingWindow, type Receipt, type StateChange, type SubmitResult, StateKind, TxType, decodeBlock,
  decodeCommit, headerHash, decodeTx, equalBytes, fromHex, genesisHash, readingWindow, seqWindowOf, toHex,
  LARGEST_TX_BYTES, LedgerTxType, billId, decodeAnyTx, ledgerChain, txSubject,
} from '../protocols/index.js';
import type { CommittedBill, LedgerApi, Logger, MeterView, NodeOptions, NodeStatus, ReadingView, StoredBlock } from './api.js';
import { NODE_DEFAULTS, silentLogger } from './api.js';
import { SignatureVerifier } from './crypto/verifier.js';
import { checkDataDirPermissions, dataPaths } from './devchain.js';
import { accountMoney } from './blocks/account-money.js';
import { periodKeyReceipts } from './blocks/period-keys.js';
import { billBundle } from './blocks/bundle.js';
import { committedReading, committedTx } from './blocks/receipts.js';
import { fsError } from './fs-errors.js';
import type { DroppedTx } from './drops.js';
import { Intake } from './intake.js';
import { Mempool } from './mempool.js';
import { type NodeMetrics, noopMetrics } from './metrics.js';
import { ChainWriter, type CommittedBlock, type Head } from './blocks/commit.js';
import type { BillingView } from './billing/auto-issue.js';
import { NodeConsensus } from './consensus/node-consensus.js';
import { DurableGossip, type TakeResult } from './p2p/jetstream.js';
import { openNatsPeerLayer } from './p2p/nats.js';
import { PeerLayer, type PeerLayerOptions, peerKeysOf, systemClock } from './p2p/peers.js';
import { everyMember, stateSets } from './consensus/state-sets.js';
import { NodeKeyRing } from './node-keys.js';
import type { PeerTransport } from './p2p/transport.js';
import { SignatureCache, type TxContext } from './signatures.js';
import { MeterRateLimiter } from './ratelimit.js';
import { ChainState } from './state/layers.js';
import { CommittedReadings } from './state/ledger.js';
import { type MeterRecord, SEEN_UNKNOWN, genesisMeters, operatorsOf } from './state/meter.js';
import { applyTx } from './state/rules.js';
import { availableBytes, filesBytes } from './store/disk.js';
import { openLevelStore } from './store/level.js';
import type { LedgerStore } from './store/store.js';
import { WriteAheadLog } from './store/wal.js';
import { recoverWriteAhead } from './store/wal-recovery.js';

/** How often the store's files and the free disk space are measured for the metrics. */
const DISK_EVERY_MS = 15_000;

export class LedgerNode implements LedgerApi {
  private isReady = false;
  /** Resolves if consensus stopped on a failure (E_CONSENSUS_HALTED): the gateway then stops. */
  failed: Promise<Error> = new Promise(() => {});
  private sizeTimer: NodeJS.Timeout | undefined;
  private backlogTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly genesis: Genesis,
    readonly intake: Intake,
    private readonly store: LedgerStore,
    private readonly wal: WriteAheadLog,
    private readonly state: ChainState,
    private readonly mempool: Mempool,
    private readonly writer: ChainWriter,
    private readonly consensus: NodeConsensus,
    private readonly verifier: SignatureVerifier,
    private readonly transport: PeerTransport | undefined,
    private readonly durable: DurableGossip | undefined,
    private readonly nodeId: string,
    private readonly isValidator: boolean,
    private readonly logger: Logger,
    private readonly bills: CommittedReadings,
  ) {}

  static async open(opts: NodeOptions): Promise<LedgerNode> {
    const { genesis } = opts;
    const logger = opts.logger ?? silentLogger;
    const metrics = opts.metrics ?? noopMetrics;
    const now = opts.now ?? Date.now;
    const paths = dataPaths(opts.dataDir);

    checkDataDirPermissions(opts.dataDir);
    // keys/validator.key, and keys/validator.next.key of a rotation under way (./node-keys.ts).
    const ring = NodeKeyRing.load(paths.validatorKey);
    const pk = ring.currentHex;
    const inGenesis = genesis.validators.find((v) => v.publicKey === pk);
    const asObserver = genesis.observers?.find((o) => o.publicKey === pk);
    const notInGenesis = (): ProtocolError =>
      new ProtocolError('E_NOT_IN_GENESIS', `${paths.validatorKey} is the key of no validator or observer in genesis, nor of a committed set change (a validator added by a set change starts with ledger.nodeId, its id)`);
    // Without a store nothing but genesis can name the key; with one, a committed change may (a rotation, an addition).
    if (inGenesis === undefined && asObserver === undefined && opts.nodeId === undefined && !existsSync(paths.store)) throw notInGenesis();
    if ((genesis.validators.length > 1 || asObserver || opts.nodeId !== undefined) && !opts.nats && !opts.carrier) {
      throw new ProtocolError('E_NO_PEERS', `this chain has ${genesis.validators.length} validators${asObserver ? ' and this node is an observer' : ''}: configure nats.servers to reach the others`);
    }

    const store = await (opts.openStore ?? openLevelStore)(paths.store);
    let transport: PeerTransport | undefined;
    let durable: DurableGossip | undefined;
    let wal: WriteAheadLog | undefined;
    try {
      // Opened under the store's lock: one process owns both.
      const opened = await WriteAheadLog.open(paths.wal).catch((e: unknown) => {
        throw fsError(e, `cannot open the write-ahead ${paths.wal}`);
      });
      wal = opened.wal;
      const gHash = genesisHash(genesis);
      const head = await openChain(store, genesis, gHash);
      let records = [];
      for await (const r of store.stateRecords()) records.push(r);
      if (head.height === 0 && records.length === 0) {
        records = genesisMeters(genesis);
        await store.saveState(records);
      }
      records = await rebuildSeqWindows(store, records, seqWindowOf(genesis), logger);
      const state = new ChainState(records);
      // Who we are: a validator of genesis or of a committed set change (a key rotated or
      // added, docs/protocol.md §13), an observer of genesis, or the id we were given.
      const members = everyMember(genesis.validators, state.committed);
      const asMember = [...members].find(([, k]) => ring.holds(k))?.[0];
      if (opts.nodeId !== undefined && members.has(opts.nodeId) && !ring.holds(members.get(opts.nodeId)) && asMember !== opts.nodeId) {
        throw new ProtocolError('E_NOT_IN_GENESIS', `${paths.validatorKey} is not the key of validator "${opts.nodeId}" in the committed sets`);
      }
      if (asMember === undefined && asObserver === undefined && opts.nodeId === undefined) throw notInGenesis();
      const validatorId = asMember ?? (asObserver ? undefined : opts.nodeId);
      const asValidator = validatorId !== undefined ? { id: validatorId } : undefined;
      const nodeId = validatorId ?? asObserver!.id;
      const verifier = new SignatureVerifier(opts.verifyWorkers ?? NODE_DEFAULTS.verifyWorkers(), metrics);
      const operators = operatorsOf(genesis);
      const window = readingWindow(genesis);
      const bills = new CommittedReadings(store);
      const txctx: TxContext = {
        chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window, seqWindow: seqWindowOf(genesis), operators, verifier, cache: new SignatureCache(),
        ledger: ledgerChain(genesis, bills, undefined, bills.sealed), bills, valset: { chainId: genesis.chainId, genesis: genesis.validators },
      };
      const intakeWindow = deviceWindow(opts, window, logger);
      const rate = opts.meterRatePerSecond ?? NODE_DEFAULTS.meterRatePerSecond;
      const burst = opts.meterBurst ?? NODE_DEFAULTS.meterBurst;
      let consensus: NodeConsensus | undefined;
      const mempool = new Mempool(
        wal, 1,
        (dropped) => {
          logger.error({ dropped: dropped.length }, 'write-ahead failed; those transactions were refused with E_GATEWAY_BUSY');
          const at = { height: head.height + 1, time: head.time ?? 0 };
          state.resetTip((accept) => {
            for (const tx of mempool.all()) accept(applyTx(state, tx, at, txctx));
          });
        },
        () => consensus?.poke(),
      );
      const intake = new Intake(
        {
          chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes,
          window: intakeWindow, maxBacklog: opts.maxBacklog ?? NODE_DEFAULTS.maxBacklog, now,
          rateLimiter: new MeterRateLimiter(rate, burst),
          // Twice a device's allowance: relays hold their meters to theirs (docs/protocol.md §3.5).
          relayRateLimiter: new MeterRateLimiter(2 * rate, 2 * burst),
          committed: (tx, anyBytes) => committedReading(store, genesis.chainId, tx.body.meterId, tx.body.seq, anyBytes ? undefined : tx),
          nextBlock: () => ({ height: head.height + 1, time: now() }),
        },
        state, operators, mempool, txctx, metrics, logger,
      );
      const recovered = await recoverWriteAhead(store, wal, opened.segments, state, txctx, { height: head.height, time: head.time ?? 0 }, intake, metrics, logger);
      mempool.restore(recovered.entries, recovered.nextNo);

      // Envelopes are sealed with our latest committed key, the one the peers check them with (a rotation: from its block on).
      const envelopeKey = () => ring.envelopeKey(everyMember(genesis.validators, state.committed).get(nodeId));
      // A key the committed sets name for us that we do not hold: keys/validator.next.key, if placed since we started.
      const wantKey = (wanted: string | undefined): void => {
        try {
          if (wanted !== undefined && !ring.holds(wanted) && ring.want(wanted)) logger.info({ publicKey: wanted }, `loaded ${paths.validatorKey.replace(/validator\.key$/, 'validator.next.key')}: the key a committed rotation names for us`);
        } catch (e) {
          logger.error({ err: e }, 'the committed sets name a new key for this validator, and keys/validator.next.key cannot be loaded');
        }
      };
      const sets = stateSets(genesis.validators, state.committed, () => head.height);
      // A rotation of our key in force at the next height: the next key becomes the key file before anything of that height is signed.
      const promote = (next: number): void => {
        if (validatorId !== undefined) wantKey(sets(next)?.find((v) => v.id === validatorId)?.publicKey);
        if (validatorId !== undefined && ring.promoteIfInForce(sets(next)?.find((v) => v.id === validatorId)?.publicKey)) {
          logger.info({ height: next, publicKey: ring.currentHex }, `node key rotated: signing with the new key from height ${next}; ${paths.validatorKey} is now the new key (the old one is removed)`);
        }
      };
      promote(head.height + 1);
      // Genesis's peers with every validator of a committed change (its latest key).
      const peersOf = () => {
        const byId = new Map(peerKeysOf(genesis).map((p) => [p.id, p]));
        for (const [id, k] of everyMember(genesis.validators, state.committed)) byId.set(id, { id, publicKey: fromHex(k) });
        return [...byId.values()];
      };
      const peer: PeerLayerOptions = {
        chainId: genesis.chainId, nodeId, nodeKey: envelopeKey(), peers: peersOf(), logger,
        ...(opts.nats?.messageWindowMs !== undefined ? { windowMs: opts.nats.messageWindowMs } : {}),
        metrics: { connected: (up) => metrics.natsConnected(up), messageDropped: (reason) => metrics.peerMessageDropped(reason) },
      };
      if (opts.carrier) {
        transport = new PeerLayer(opts.carrier, peer);
      } else if (opts.nats) {
        const n = opts.nats;
        const opened = await openNatsPeerLayer({
          servers: n.servers, name: `meterledger/${genesis.chainId}/${nodeId}`, logger,
          ...(n.auth ? { auth: n.auth } : {}), ...(n.tls ? { tls: n.tls } : {}), ...(n.reconnect ? { reconnect: n.reconnect } : {}),
          ...(n.ignoreClusterUpdates ? { ignoreClusterUpdates: true } : {}),
        }, peer);
        transport = opened.layer;
        if (n.stream?.enabled !== false) {
          durable = new DurableGossip(
            {
              chainId: genesis.chainId, nodeId, nodeKey: envelopeKey(), peers: peersOf(), consume: asValidator !== undefined,
              replicas: n.stream?.replicas ?? 1, maxAgeMs: n.stream?.maxAgeMs ?? 7 * 86_400_000, maxBytes: n.stream?.maxBytes ?? 2 ** 30,
              maxTxBytes: Math.max(genesis.params.maxTxBytes, LARGEST_TX_BYTES), logger,
            },
            () => opened.carrier.connection(),
            (bytes) => takeFromStream(intake, bytes),
            () => mempool.entries().map((p) => p.tx),
          );
        }
      }
      const writer = new ChainWriter(genesis, head, store, state, mempool, intake, txctx, metrics, logger);
      writer.blockListeners.add((b) => {
        promote(b.height + 1);
        if (!b.changes.some((c) => c.kind === StateKind.ValidatorSet)) return;
        const peers = peersOf();
        transport?.setPeers?.(peers);
        durable?.setPeers(peers);
        wantKey(everyMember(genesis.validators, state.committed).get(nodeId));
        transport?.setNodeKey?.(envelopeKey());
        durable?.setNodeKey(envelopeKey());
        logger.info({ height: b.height }, 'validator set changed: peer keys updated');
      });
      metrics.chainHeight(head.height);
      consensus = new NodeConsensus({
        genesis, validatorId: asValidator?.id, nodeKey: ring.envelopeKey(undefined), nodePublicKey: pk, nodeKeys: ring.keys,
        sets,
        blockIntervalMs: opts.blockIntervalMs ?? NODE_DEFAULTS.blockIntervalMs,
        blockMaxTxs: Math.min(opts.blockMaxTxs ?? NODE_DEFAULTS.blockMaxTxs, genesis.params.maxBlockTxs),
        ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
        scheduler: { now, after: (ms, fn) => systemClock.after(ms, fn) }, random: Math.random,
        writer, store, mempool, state, intake, txctx, transport, metrics, logger,
        ...(opts.proposalRewrite ? { proposalRewrite: opts.proposalRewrite } : {}),
      });
      const c = consensus;
      intake.onAccepted = (tx) => {
        c.gossip(tx.bytes);
        durable?.publish(tx);
      };
      const node = new LedgerNode(genesis, intake, store, wal, state, mempool, writer, consensus, verifier, transport, durable, nodeId, asValidator !== undefined, logger, bills);
      node.failed = consensus.failed.then((e) => {
        node.isReady = false; // consensus stopped: not ready, and the gateway stops (gateway/cli/commands/start.ts)
        return e;
      });
      await consensus.start();
      durable?.start();
      node.isReady = true;
      let measuring = false;
      const measureDisk = (): void => {
        if (measuring) return;
        measuring = true;
        void Promise.all([filesBytes([paths.store, paths.wal]), availableBytes(paths.store)])
          .then(([size, free]) => {
            metrics.storeSizeBytes(size);
            metrics.storeFilesystemAvailBytes(free);
          }, (e: unknown) => logger.debug({ err: (e as Error).message }, 'could not measure the store on disk'))
          .finally(() => (measuring = false));
      };
      measureDisk();
      node.sizeTimer = setInterval(measureDisk, DISK_EVERY_MS).unref();
      node.backlogTimer = setInterval(() => {
        const oldest = mempool.oldestAcceptedAt();
        metrics.backlog(mempool.size, oldest === undefined ? 0 : (performance.now() - oldest) / 1000);
      }, 1000).unref();
      logger.info({ chainId: genesis.chainId, height: head.height, node: nodeId, role: asValidator ? 'validator' : 'observer' }, 'ledger node open');
      return node;
    } catch (e) {
      durable?.close();
      await (transport ?? opts.carrier)?.close().catch(() => {});
      await wal?.close().catch(() => {});
      await store.close().catch(() => {});
      throw e;
    }
  }

  submitTx(bytes: Uint8Array): Promise<SubmitResult> {
    return this.intake.submit(bytes, { meterId: '', transport: 'http' });
  }

  status(): NodeStatus {
    const h = this.writer.head;
    const behind = Math.max(0, ...[...this.consensus.peerHeights.values()].map((p) => p - h.height));
    return {
      hasQuorum: this.consensus.hasQuorum, behind, syncing: behind > 1,
      chainId: this.genesis.chainId, role: this.isValidator ? 'validator' : 'observer',
      validatorId: this.isValidator ? this.nodeId : undefined, nodeId: this.nodeId,
      height: h.height, headHash: toHex(h.hash), headTime: h.time, pending: this.mempool.size, meters: this.state.size(StateKind.Meter),
      round: this.consensus.round, peers: this.transport?.peers() ?? [], natsConnected: this.transport?.connected(),
      ...(this.consensus.stateProblem !== undefined ? { stateProblem: this.consensus.stateProblem } : {}),
      ...(this.consensus.halted !== undefined ? { halted: this.consensus.halted } : {}),
    };
  }

  async getBlockBytes(height: number): Promise<{ block: Uint8Array; commit: Uint8Array } | undefined> {
    if (!Number.isSafeInteger(height) || height < 1) return undefined;
    const [block, commit] = await Promise.all([this.store.blockBytes(height), this.store.commitBytes(height)]);
    return block && commit ? { block, commit } : undefined;
  }

  async getBlock(height: number): Promise<StoredBlock | undefined> {
    const raw = await this.getBlockBytes(height);
    if (!raw) return undefined;
    const b = decodeBlock(raw.block);
    return { header: b.header, hash: decodeCommit(raw.commit).blockHash, txs: b.txs, commit: decodeCommit(raw.commit) };
  }

  /** By identity (docs/protocol.md §3.8): the receipt of what was committed as (meterId, seq). */
  async getReceipt(meterId: string, seq: bigint): Promise<Receipt | undefined> {
    return (await committedReading(this.store, this.genesis.chainId, meterId, seq))?.receipt;
  }

  getTxReceipt(hash: Uint8Array): Promise<Receipt | undefined> {
    return committedTx(this.store, this.genesis.chainId, hash);
  }

  async meterKeyReceipts(meterId: string): Promise<Receipt[]> {
    const out: Receipt[] = [];
    for await (const p of this.store.txsAbout(txSubject.meter(meterId))) {
      const r = await committedTx(this.store, this.genesis.chainId, p.hash);
      const type = r ? decodeAnyTx(r.tx, Number.MAX_SAFE_INTEGER).body.type : undefined;
      if (r && (type === TxType.MeterRegister || type === TxType.MeterRotate || type === TxType.MeterRevoke)) out.push(r);
    }
    return out;
  }

  getBillBundle(meterId: string, period: string): Promise<BillBundle | undefined> {
    return billBundle(this.store, this.genesis, meterId, period);
  }

  periodKeyReceipts(meterId: string, keyId?: Uint8Array): Promise<Receipt[]> {
    return periodKeyReceipts(this.store, this.genesis.chainId, meterId, keyId);
  }

  /** Receipts of the account's deposits, withdrawals and the payments of the bills it pays, oldest first. */
  accountMoneyReceipts(account: string): Promise<Receipt[]> {
    const bills = this.recordIds(StateKind.Bill).filter((id) => (this.record(StateKind.Bill, id) as BillRecord | undefined)?.account === account);
    return accountMoney(this.store, this.genesis.chainId, account, bills);
  }

  getMeter(meterId: string): MeterView | undefined {
    const m = this.state.committed.get(StateKind.Meter, meterId) as MeterRecord | undefined;
    if (!m) return undefined;
    return {
      meterId, alg: m.alg === -8 ? 'Ed25519' : 'ES256', publicKey: toHex(m.publicKey), keyEpoch: m.keyEpoch, revoked: m.revoked,
      lastSeq: m.lastSeq.toString(), ...(m.owner !== undefined ? { owner: m.owner } : {}), ...(m.jid !== undefined ? { jid: m.jid } : {}),
    };
  }

  listMeters(): MeterView[] {
    return this.state.ids(StateKind.Meter).map((id) => this.getMeter(id)).filter((m): m is MeterView => m !== undefined);
  }

  record(kind: StateKind, id: string): unknown {
    return this.state.committed.get(kind, id);
  }

  recordIds(kind: StateKind, prefix = ''): string[] {
    return this.state.committedIds(kind).filter((id) => id.startsWith(prefix));
  }

  async committedBill(meterId: string, period: string): Promise<CommittedBill | undefined> {
    const rec = this.state.committed.get(StateKind.Bill, billId(meterId, period)) as { height?: number } | undefined;
    if (rec?.height === undefined) return undefined;
    // BillRecord.height is the height of the block that committed the bill (billing.md §13.4).
    const raw = await this.store.blockBytes(rec.height);
    if (!raw) throw new ProtocolError('E_STORE_CORRUPT', `bill ${meterId}/${period} names missing block ${rec.height}`);
    const txs = decodeBlock(raw).txs;
    for (let index = 0; index < txs.length; index++) {
      const tx = decodeAnyTx(txs[index]!, LARGEST_TX_BYTES);
      const b = tx.body;
      if (b.type === LedgerTxType.Bill && b.bill.meterId === meterId && b.bill.period.label === period) {
        return { body: b, txHash: toHex(tx.hash), height: rec.height, index, bytes: txs[index]! };
      }
    }
    throw new ProtocolError('E_STORE_CORRUPT', `block ${rec.height} holds no bill ${meterId}/${period}`);
  }

  async readings(meterId: string, fromSeq: bigint, limit: number): Promise<ReadingView[]> {
    const out: ReadingView[] = [];
    const blocks = new Map<number, readonly Uint8Array[]>();
    for await (const pos of this.store.readingPositions(meterId, fromSeq)) {
      if (out.length >= limit) break;
      let txs = blocks.get(pos.height);
      if (!txs) {
        const raw = await this.store.blockBytes(pos.height);
        if (!raw) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
        txs = decodeBlock(raw).txs;
        blocks.set(pos.height, txs);
      }
      const tx = decodeAnyTx(txs[pos.index]!, Infinity);
      if (tx.body.type !== TxType.Reading) continue;
      const r = tx.body;
      // Returned sealed, to anyone: this node holds no key and never decrypts (§11.9).
      if ('sealed' in r) {
        out.push({ meterId, seq: r.seq.toString(), time: r.time, height: pos.height, index: pos.index, txHash: toHex(tx.hash), sealed: toHex(tx.bytes) });
        continue;
      }
      out.push({
        meterId, seq: r.seq.toString(), time: r.time, importWh: r.importWh, height: pos.height, index: pos.index, txHash: toHex(tx.hash),
        ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}), ...(r.powerW !== undefined ? { powerW: r.powerW } : {}),
      });
    }
    return out;
  }

  ready(): boolean {
    return this.isReady;
  }

  /** Told of every committed block, after it is applied (billing: autoIssue, the bills topics). Returns an unsubscribe. */
  onBlock(listener: (b: CommittedBlock) => void): () => void {
    this.writer.blockListeners.add(listener);
    return () => this.writer.blockListeners.delete(listener);
  }

  /**
   * Told of every accepted operator or ledger transaction that a block made invalid before
   * its commit (billing: a payment's refusal to its meter). Drops found at start, in the
   * write-ahead, go to the first listener. Returns an unsubscribe.
   */
  onDroppedTx(listener: (d: DroppedTx) => void): () => void {
    return this.intake.onDroppedTx(listener);
  }

  /** What a biller reads to compute bills over committed state (billing/auto-issue.ts). */
  billingView(): BillingView {
    const { state, writer, bills } = this;
    return {
      committed: state.committed, tip: state, ids: (kind) => state.ids(kind),
      head: () => ({ height: writer.head.height, time: writer.head.time ?? 0 }), readings: bills,
    };
  }

  /** Stop taking transactions, commit what was accepted (up to 5 s), close the store. */
  async close(): Promise<void> {
    if (!this.isReady) return;
    this.isReady = false;
    clearInterval(this.sizeTimer);
    clearInterval(this.backlogTimer);
    await this.intake.close();
    await this.mempool.settled();
    await this.consensus.drain(this.transport ? 3000 : 5000);
    // The receipts of the last blocks, still going out to the bridges (blocks/commit.ts).
    await this.writer.receiptsSent();
    this.durable?.close();
    await this.transport?.close().catch(() => {});
    await this.verifier.close();
    await this.wal.close();
    await this.store.close();
    this.logger.info({ pending: this.mempool.size }, 'ledger node closed');
  }
}

/**
 * A transaction from the durable stream (p2p/jetstream.ts) into our mempool, as a peer's:
 * done once it is in our write-ahead, committed, or invalid for good (the intake said why);
 * redelivered later when we are busy or the meter's relay rate is spent.
 */
async function takeFromStream(intake: Intake, bytes: Uint8Array): Promise<TakeResult> {
  const r = await intake.submit(bytes, { meterId: '', transport: 'peer' });
  return r.status === 'rejected' && (r.code === ReasonCode.BUSY || r.code === ReasonCode.RATE_LIMITED) ? 'retry' : 'done';
}

/**
 * The window a device's reading time must lie in around our clock: the configured one
 * (default 7 days, 5 minutes), but never wider than the block rule's (docs/protocol.md §3.5).
 */
function deviceWindow(opts: NodeOptions, chain: ReadingWindow, logger: Logger): ReadingWindow {
  const want = { maxPastMs: opts.maxPastMs ?? NODE_DEFAULTS.maxPastMs, maxFutureMs: opts.maxFutureMs ?? NODE_DEFAULTS.maxFutureMs };
  const w = { maxPastMs: Math.min(want.maxPastMs, chain.maxPastMs), maxFutureMs: Math.min(want.maxFutureMs, chain.maxFutureMs) };
  if (w.maxPastMs !== want.maxPastMs || w.maxFutureMs !== want.maxFutureMs) {
    logger.warn({ configured: want, genesis: chain, used: w }, 'ledger.maxPastMs / maxFutureMs are wider than genesis allows a block to hold; using the genesis bounds');
  }
  return w;
}

/**
 * Records saved before the anti-replay window (docs/protocol.md §3.9) have none: rebuild
 * each from the chain's reading index (the committed seqs in the window below lastSeq)
 * and save it, so every validator's window is the one the chain defines.
 */
async function rebuildSeqWindows(store: LedgerStore, records: readonly StateChange[], seqWindow: number, logger: Logger): Promise<StateChange[]> {
  const out: StateChange[] = [];
  const fixed: StateChange[] = [];
  for (const r of records) {
    const rec = r.value as MeterRecord;
    if (r.kind !== StateKind.Meter || rec.seen !== SEEN_UNKNOWN) {
      out.push(r);
      continue;
    }
    let seen = 0n;
    const from = rec.lastSeq - BigInt(seqWindow) + 1n;
    for await (const p of store.readingPositions(r.id, from > 1n ? from : 1n)) {
      if (p.seq > rec.lastSeq) break;
      seen |= 1n << (rec.lastSeq - p.seq);
    }
    const c = { kind: r.kind, id: r.id, value: { ...rec, seen } };
    out.push(c);
    fixed.push(c);
  }
  if (fixed.length) {
    await store.saveState(fixed);
    logger.info({ meters: fixed.length }, 'meter records upgraded with their anti-replay window (rebuilt from the reading index)');
  }
  return out;
}

/** Check the store belongs to this genesis and its head is sound; stamp a new store. */
async function openChain(store: LedgerStore, genesis: Genesis, gHash: Uint8Array): Promise<Head> {
  const stored = await store.genesisHash();
  if (stored === undefined) {
    if ((await store.head()) !== undefined) throw new ProtocolError('E_STORE_CORRUPT', 'store has a head but no genesis hash');
    await store.setGenesisHash(gHash);
    return { height: 0, hash: gHash, time: undefined };
  }
  if (!equalBytes(stored, gHash)) {
    throw new ProtocolError('E_STORE_WRONG_CHAIN', `store belongs to genesis ${toHex(stored)}, not ${toHex(gHash)} (${genesis.chainId})`);
  }
  const head = await store.head();
  if (!head) return { height: 0, hash: gHash, time: undefined };
  const raw = await store.blockBytes(head.height);
  if (!raw) throw new ProtocolError('E_STORE_CORRUPT', `head block ${head.height} is missing`);
  let header;
  try {
    header = decodeBlock(raw).header;
  } catch (e) {
    throw new ProtocolError('E_STORE_CORRUPT', `head block ${head.height} does not decode: ${(e as Error).message}`, { cause: e });
  }
  if (!equalBytes(headerHash(header), head.hash)) throw new ProtocolError('E_STORE_CORRUPT', `head block ${head.height} does not hash to the head pointer`);
  if ((await store.blockBytes(head.height + 1)) !== undefined) throw new ProtocolError('E_STORE_CORRUPT', `a block above the head (${head.height + 1}) exists`);
  return { height: head.height, hash: head.hash, time: header.time };
}
