/**
 * LedgerNode: opens the store, recovers the write-ahead, and wires intake, mempool,
 * verifier and block producer together. The one object gateway/ holds.
 */
import { availableParallelism } from 'node:os';
import {
  type Genesis, ProtocolError, type Receipt, type SubmitResult, TxType, decodeBlock, decodeCommit, headerHash,
  decodeTx, equalBytes, genesisHash, inclusionProof, sigStructure, toHex,
} from '../protocols/index.js';
import type { LedgerApi, Logger, MeterView, NodeOptions, NodeStatus, ReadingView, StoredBlock } from './api.js';
import { silentLogger } from './api.js';
import { SignatureVerifier } from './crypto/verifier.js';
import { dataPaths } from './devchain.js';
import { Intake } from './intake.js';
import { loadKeyFile } from './keyfile.js';
import { Mempool } from './mempool.js';
import { noopMetrics } from './metrics.js';
import { BlockProducer, type Head } from './producer.js';
import { MeterRateLimiter } from './ratelimit.js';
import { Registry } from './registry.js';
import { applyTx, genesisMeters, operatorsOf, requiredSigner } from './rules.js';
import { LedgerStore } from './store/store.js';

const DAY = 86_400_000;

export class LedgerNode implements LedgerApi {
  private isReady = false;
  private sizeTimer: NodeJS.Timeout | undefined;
  private backlogTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly genesis: Genesis,
    readonly intake: Intake,
    private readonly store: LedgerStore,
    private readonly registry: Registry,
    private readonly mempool: Mempool,
    private readonly producer: BlockProducer,
    private readonly verifier: SignatureVerifier,
    private readonly validatorId: string,
    private readonly logger: Logger,
  ) {}

  static async open(opts: NodeOptions): Promise<LedgerNode> {
    const { genesis } = opts;
    const logger = opts.logger ?? silentLogger;
    const metrics = opts.metrics ?? noopMetrics;
    const now = opts.now ?? Date.now;
    const paths = dataPaths(opts.dataDir);

    const key = loadKeyFile(paths.validatorKey);
    const me = genesis.validators.find((v) => v.publicKey === toHex(key.publicKey));
    if (!me) throw new ProtocolError('E_NOT_VALIDATOR', `${paths.validatorKey} is not the key of any validator in genesis`);

    const store = await LedgerStore.open(paths.store);
    try {
      const gHash = genesisHash(genesis);
      const head = await openChain(store, genesis, gHash);
      let meters = await store.loadMeters();
      if (head.height === 0 && meters.size === 0) {
        meters = genesisMeters(genesis);
        await store.saveMeters(meters);
      }
      const registry = new Registry(meters);

      const verifier = new SignatureVerifier(opts.verifyWorkers ?? availableParallelism(), metrics);
      const operators = operatorsOf(genesis);
      let producer: BlockProducer | undefined;
      const mempool = new Mempool(
        store, 1,
        (dropped) => {
          logger.error({ dropped: dropped.length }, 'write-ahead failed; those transactions were refused with E_GATEWAY_BUSY');
          registry.resetTip((accept) => {
            for (const tx of mempool.all()) {
              const { meterId, next } = applyTx(registry, tx);
              accept(meterId, next);
            }
          });
        },
        () => producer?.poke(),
      );
      const intake = new Intake(
        {
          chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes,
          maxPastMs: opts.maxPastMs ?? 7 * DAY, maxFutureMs: opts.maxFutureMs ?? 300_000,
          maxBacklog: opts.maxBacklog ?? 100_000, now,
          rateLimiter: new MeterRateLimiter(opts.meterRatePerSecond ?? 50, opts.meterBurst ?? 500),
        },
        registry, operators, mempool, verifier, metrics, logger,
      );

      // Recover what was accepted before a stop or crash: it is valid against the tip in order.
      const recovered = [];
      for (const p of await store.loadPending()) {
        try {
          const tx = decodeTx(p.bytes, genesis.params.maxTxBytes);
          const signer = requiredSigner(registry, operators, tx);
          const ok = await verifier.verify(signer.alg, signer.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId), tx.cose.signature);
          if (!ok) throw new Error('signature does not verify');
          const { meterId, next } = applyTx(registry, tx);
          registry.accept(meterId, next);
          recovered.push({ no: p.no, tx });
        } catch (e) {
          throw new ProtocolError('E_STORE_CORRUPT', `write-ahead entry ${p.no} is invalid: ${(e as Error).message}`, { cause: e });
        }
      }
      mempool.restore(recovered);
      if (recovered.length) logger.info({ recovered: recovered.length }, 'recovered accepted transactions from the write-ahead');

      producer = new BlockProducer(
        genesis, head,
        {
          blockIntervalMs: opts.blockIntervalMs ?? 1000,
          blockMaxTxs: Math.min(opts.blockMaxTxs ?? 2000, genesis.params.maxBlockTxs),
          validatorId: me.id, validatorKey: key.privateKey, now,
        },
        store, registry, mempool, intake, metrics, logger,
      );
      const node = new LedgerNode(genesis, intake, store, registry, mempool, producer, verifier, me.id, logger);
      node.isReady = true;
      producer.poke();
      node.sizeTimer = setInterval(() => void store.sizeBytes().then((b) => metrics.storeSizeBytes(b), () => {}), 15_000).unref();
      node.backlogTimer = setInterval(() => {
        const oldest = mempool.oldestAcceptedAt();
        metrics.backlog(mempool.size, oldest === undefined ? 0 : (performance.now() - oldest) / 1000);
      }, 1000).unref();
      logger.info({ chainId: genesis.chainId, height: head.height, validator: me.id }, 'ledger node open');
      return node;
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  submitTx(bytes: Uint8Array): Promise<SubmitResult> {
    return this.intake.submit(bytes, { meterId: '', transport: 'http' });
  }

  status(): NodeStatus {
    const h = this.producer.head;
    return {
      chainId: this.genesis.chainId, role: 'validator', validatorId: this.validatorId,
      height: h.height, headHash: toHex(h.hash), headTime: h.time, pending: this.mempool.size, meters: this.registry.size,
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

  async getReceipt(meterId: string, seq: bigint): Promise<Receipt | undefined> {
    const pos = await this.store.readingPosition(meterId, seq);
    if (!pos) return undefined;
    const b = await this.getBlock(pos.height);
    if (!b) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
    return { chainId: this.genesis.chainId, tx: b.txs[pos.index]!, index: pos.index, header: b.header, proof: inclusionProof(b.txs, pos.index), commit: b.commit };
  }

  getMeter(meterId: string): MeterView | undefined {
    const m = this.registry.committed.meter(meterId);
    if (!m) return undefined;
    return {
      meterId, alg: m.alg === -8 ? 'Ed25519' : 'ES256', publicKey: toHex(m.publicKey), keyEpoch: m.keyEpoch, revoked: m.revoked,
      lastSeq: m.lastSeq.toString(), ...(m.owner !== undefined ? { owner: m.owner } : {}), ...(m.jid !== undefined ? { jid: m.jid } : {}),
    };
  }

  listMeters(): MeterView[] {
    return this.registry.ids().map((id) => this.getMeter(id)).filter((m): m is MeterView => m !== undefined);
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
      const tx = decodeTx(txs[pos.index]!, Infinity);
      if (tx.body.type !== TxType.Reading) continue;
      const r = tx.body;
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

  /** Stop taking transactions, commit what was accepted (up to 5 s), close the store. */
  async close(): Promise<void> {
    if (!this.isReady) return;
    this.isReady = false;
    clearInterval(this.sizeTimer);
    clearInterval(this.backlogTimer);
    await this.intake.close();
    await this.mempool.settled();
    await this.producer.drain(5000);
    await this.verifier.close();
    await this.store.close();
    this.logger.info({ pending: this.mempool.size }, 'ledger node closed');
  }
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
