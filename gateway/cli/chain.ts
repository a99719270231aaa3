/** What CLI commands load from a data dir: the genesis and the keys, by role. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Genesis, toHex } from '../../protocols/index.js';
import { dataPaths, loadGenesisFile } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import { GatewayError } from '../errors.js';

export function loadDataDirGenesis(dataDir: string): Genesis {
  const p = dataPaths(resolve(dataDir));
  if (!existsSync(p.genesis)) throw new GatewayError('E_NO_CHAIN', `${resolve(dataDir)} holds no chain (no genesis.json); run meterledger init --data-dir ${dataDir}`);
  return loadGenesisFile(p.genesis);
}

export function loadMeterKey(dataDir: string, meterId: string): KeyPair {
  return loadKeyFile(dataPaths(resolve(dataDir)).meterKey(meterId));
}

/** The operator key of the data dir and its id in genesis (the COSE kid of its transactions). */
export function loadOperator(dataDir: string, genesis: Genesis): { id: string; key: KeyPair } {
  const key = loadKeyFile(dataPaths(resolve(dataDir)).operatorKey);
  const pk = toHex(key.publicKey);
  const op = genesis.operators.find((o) => o.publicKey === pk);
  if (!op) throw new GatewayError('E_NOT_OPERATOR', `${dataPaths(resolve(dataDir)).operatorKey} is not the key of any operator in genesis`);
  return { id: op.id, key };
}
