/** A dev chain in a temp folder, with its keys loaded, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Genesis, type TxBody, TxType, signTx } from '../../protocols/index.js';
import { type DevChainOptions, dataPaths, initDevChain } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';

export interface TestChain {
  readonly dataDir: string;
  readonly genesis: Genesis;
  readonly meterIds: string[];
  readonly meterKeys: Map<string, KeyPair>;
  readonly operatorKey: KeyPair;
  readonly operatorId: string;
  /** A signed reading of `meterId` (default: now, Wh = seq * 10). */
  reading(meterId: string, seq: bigint | number, fields?: { time?: number; importWh?: number; key?: KeyPair }): Uint8Array;
  /** An operator transaction signed by the genesis operator. */
  operatorTx(body: TxBody): Uint8Array;
  cleanup(): void;
}

export function makeTestChain(opts: Partial<DevChainOptions> = {}): TestChain {
  const dataDir = mkdtempSync(join(tmpdir(), 'meterledger-test-'));
  const { genesis, meterIds } = initDevChain(dataDir, { meters: 3, ...opts });
  const p = dataPaths(dataDir);
  const meterKeys = new Map(meterIds.map((id) => [id, loadKeyFile(p.meterKey(id))]));
  const operatorKey = loadKeyFile(p.operatorKey);
  const operatorId = genesis.operators[0]!.id;
  return {
    dataDir, genesis, meterIds, meterKeys, operatorKey, operatorId,
    reading(meterId, seq, f = {}) {
      const k = f.key ?? meterKeys.get(meterId)!;
      return signTx(genesis.chainId, k.alg, k.secretKey, {
        type: TxType.Reading, meterId, seq: BigInt(seq), time: f.time ?? Date.now(), importWh: f.importWh ?? Number(seq) * 10,
      });
    },
    operatorTx(body) {
      return signTx(genesis.chainId, operatorKey.alg, operatorKey.secretKey, body, operatorId);
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
