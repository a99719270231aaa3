/**
 * A small in-memory LedgerApi for gateway tests: a real genesis, one committed block of
 * real signed readings with a real commit certificate, so receipts verify. Records the
 * transactions handed to submitTx.
 */
import {
  Alg, type Genesis, type Receipt, type SubmitResult, TxType, VoteType, encodeBlock, encodeCommit, genesisHash,
  headerHash, makeHeader, makeReceipt, parseGenesis, publicKeyOf, randomSecretKey, sha256, signMessage, signTx,
  toHex, voteSignBytes,
} from '../../protocols/index.js';
import type { IntakePort } from '../../protocols/index.js';
import type { LedgerApi, MeterView, NodeStatus, ReadingView, StoredBlock } from '../../ledger-node/api.js';

export interface FakeLedger extends LedgerApi {
  readonly submitted: Uint8Array[];
  /** Signed transaction bytes of meter-0001 reading `seq` (1 and 2 are in block 1). */
  readonly readingTxs: Uint8Array[];
  isReady: boolean;
  /** What status() reports of consensus (a lone validator: quorum, level). */
  hasQuorum: boolean;
  behind: number;
  nextSubmit: SubmitResult | undefined;
  /** Committed ledger records by kind, then id (what record/recordIds read); tests fill it. */
  readonly records: Map<string, Map<string, unknown>>;
  /** Meters by id (getMeter/listMeters); meter-0001 to start with, owned by owner-1. */
  readonly meters: Map<string, MeterView>;
}

export function makeFakeLedger(): FakeLedger {
  const vSk = randomSecretKey(Alg.EdDSA);
  const oSk = randomSecretKey(Alg.EdDSA);
  const mSk = randomSecretKey(Alg.EdDSA);
  const genesis: Genesis = parseGenesis({
    chainId: 'test-chain', genesisTime: '2026-01-01T00:00:00Z',
    validators: [{ id: 'validator-0', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, vSk)), power: 1 }],
    operators: [{ id: 'operator-0', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, oSk)) }],
    meters: [{ id: 'meter-0001', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, mSk)), owner: 'owner-1' }],
  });
  const t0 = Date.parse('2026-01-02T00:00:00Z');
  const readingTxs = [1n, 2n].map((seq) => signTx(genesis.chainId, Alg.EdDSA, mSk, {
    type: TxType.Reading, meterId: 'meter-0001', seq, time: t0 + Number(seq), importWh: 100 * Number(seq),
  }));
  const header = makeHeader({ chainId: genesis.chainId, height: 1, time: t0 + 1000, prevHash: genesisHash(genesis), proposer: 'validator-0' }, readingTxs);
  const hash = headerHash(header);
  const commit = {
    height: 1, round: 0, blockHash: hash,
    signatures: [{ validator: 'validator-0', signature: signMessage(Alg.EdDSA, vSk, voteSignBytes(genesis.chainId, VoteType.Precommit, 1, 0, hash)) }],
  };
  const block: StoredBlock = { header, hash, txs: readingTxs, commit };
  const receipts: Receipt[] = readingTxs.map((_tx, index) => makeReceipt(genesis.chainId, { header, txs: readingTxs }, index, commit));
  const meter: MeterView = {
    meterId: 'meter-0001', alg: 'Ed25519', publicKey: genesis.meters[0]!.publicKey, keyEpoch: 0, revoked: false, owner: 'owner-1', lastSeq: '2',
  };
  const readingViews: ReadingView[] = readingTxs.map((tx, i) => ({
    meterId: 'meter-0001', seq: String(i + 1), time: t0 + i + 1, importWh: 100 * (i + 1), height: 1, index: i, txHash: toHex(sha256(tx)),
  }));
  const intake: IntakePort = {
    chainId: genesis.chainId,
    submit: async () => ({ status: 'rejected', txHash: new Uint8Array(32), code: 'E_GATEWAY_BUSY', message: 'fake' }),
    meterAuth: () => undefined,
    onCommitted: () => () => undefined,
    onDropped: () => () => undefined,
  };
  const fake: FakeLedger = {
    genesis, intake, submitted: [], readingTxs, isReady: true, hasQuorum: true, behind: 0, nextSubmit: undefined,
    async submitTx(bytes) {
      fake.submitted.push(bytes);
      return fake.nextSubmit ?? { status: 'accepted', txHash: sha256(bytes), seq: 0n };
    },
    status(): NodeStatus {
      return {
        chainId: genesis.chainId, role: 'validator', validatorId: 'validator-0', height: 1, headHash: toHex(hash),
        headTime: header.time, pending: 0, meters: 1, nodeId: 'validator-0', round: 0, peers: [], natsConnected: undefined,
        hasQuorum: fake.hasQuorum, behind: fake.behind, syncing: fake.behind > 1,
      };
    },
    async getBlock(h) {
      return h === 1 ? block : undefined;
    },
    async getBlockBytes(h) {
      return h === 1 ? { block: encodeBlock({ header, txs: readingTxs }), commit: encodeCommit(commit) } : undefined;
    },
    async getReceipt(id, seq) {
      return id === 'meter-0001' && (seq === 1n || seq === 2n) ? receipts[Number(seq) - 1] : undefined;
    },
    records: new Map(),
    meters: new Map([[meter.meterId, meter]]),
    getMeter: (id) => fake.meters.get(id),
    listMeters: () => [...fake.meters.values()],
    record: (kind, id) => fake.records.get(kind)?.get(id),
    recordIds: (kind, prefix = '') => [...(fake.records.get(kind)?.keys() ?? [])].filter((id) => id.startsWith(prefix)).sort(),
    async committedBill() {
      return undefined;
    },
    async getTxReceipt(hash) {
      return receipts.find((r) => toHex(sha256(r.tx)) === toHex(hash));
    },
    async getBillBundle() {
      return undefined;
    },
    async meterKeyReceipts() {
      return [];
    },
    async periodKeyReceipts() {
      return [];
    },
    async readings(id, fromSeq, limit) {
      return id === 'meter-0001' ? readingViews.filter((r) => BigInt(r.seq) >= fromSeq).slice(0, limit) : [];
    },
    ready: () => fake.isReady,
    async close() {},
  };
  return fake;
}
