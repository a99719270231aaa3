/**
 * TEST ONLY: a Byzantine proposer, for the real-cluster test of issue #12 ("a Byzantine
 * proposer that includes a wrong bill gets it refused by the honest validators",
 * test/integration/cluster/byzantine-bill.test.ts). With METERLEDGER_TEST_BYZANTINE_BILL
 * set to the file of a biller key, every bill this validator puts into a block it proposes
 * is replaced by the same bill with a total one minor unit too high, signed again with that
 * key: only recomputing the bill exposes it (E_BILL_MISMATCH, docs/billing.md §17).
 *
 * Honoured only on a chain whose id says it is a dev or test chain ("dev-..." from
 * `meterledger init`, "testnet-..." from `meterledger testnet`); on any other chain the
 * gateway refuses to start (E_TEST_HOOK_REFUSED). Nothing else in the node calls this.
 */
import { type Genesis, LedgerTxType, ProtocolError, type SignedTx, type TxBody, operatorRoles, signTx, toHex } from '../../protocols/index.js';
import { type KeyPair, loadKeyFile } from '../keyfile.js';

export const BYZANTINE_BILL_ENV = 'METERLEDGER_TEST_BYZANTINE_BILL';

/** What a proposer puts into its block instead of `tx` (undefined: `tx` itself). */
export type ProposalRewrite = (tx: SignedTx<TxBody>) => Uint8Array | undefined;

/** The chain ids `meterledger init` and `meterledger testnet` make by default. */
export const isTestChainId = (chainId: string): boolean => /^(dev|testnet)-/.test(chainId);

/** The rewrite of a Byzantine proposer signing wrong bills with `key` (a genesis biller's). */
export function byzantineBillRewrite(genesis: Genesis, key: KeyPair): ProposalRewrite {
  if (!isTestChainId(genesis.chainId)) refuse(genesis);
  const biller = genesis.operators.find((o) => o.publicKey === toHex(key.publicKey) && operatorRoles(o).includes('biller'))?.id;
  if (biller === undefined) throw new ProtocolError('E_TEST_HOOK_REFUSED', `${BYZANTINE_BILL_ENV}: the key is no genesis operator's with the biller role`);
  return (tx) => {
    const body = tx.body;
    if (body.type !== LedgerTxType.Bill) return undefined;
    return signTx(genesis.chainId, key.alg, key.secretKey, { ...body, bill: { ...body.bill, total: body.bill.total + 1 } }, biller);
  };
}

/** The rewrite `env` asks for (the gateway passes process.env), if any; the key file is read here. */
export function byzantineBillFromEnv(genesis: Genesis, env: Readonly<Record<string, string | undefined>>): ProposalRewrite | undefined {
  const file = env[BYZANTINE_BILL_ENV];
  if (file === undefined || file === '') return undefined;
  // The chain is checked before the key file is read: on a production chain nothing of the hook runs.
  if (!isTestChainId(genesis.chainId)) refuse(genesis);
  return byzantineBillRewrite(genesis, loadKeyFile(file));
}

function refuse(genesis: Genesis): never {
  throw new ProtocolError('E_TEST_HOOK_REFUSED', `${BYZANTINE_BILL_ENV} is a test-only hook and chain "${genesis.chainId}" is not a dev or testnet chain (its id starts with neither "dev-" nor "testnet-"): unset it`);
}
