/** `meterledger init`: a dev chain (one validator, one operator, N meters) in a data dir. */
import { join, resolve } from 'node:path';
import { DEV_BILLER_RECIPIENT, DEV_BILLING_CYCLE_MS, DEV_PAYEE, type MeterAlgChoice, dataPaths, initDevChain } from '../../../ledger-node/devchain.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, intFlag, need, optionalString, out } from '../args.js';

const ALGS: readonly MeterAlgChoice[] = ['Ed25519', 'ES256', 'mixed'];

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'Create a dev chain in a data dir: genesis.json with one validator, one operator and N meters, each key in a 0600 file.',
  options: {
    'data-dir': { type: 'string', value: 'D', required: true, help: 'folder to create the chain in (must not hold one)' },
    meters: { type: 'string', value: 'N', help: 'meters registered in genesis (default 10)' },
    'meter-alg': { type: 'string', value: 'ALG', help: 'meter key type: Ed25519 (default), ES256 or mixed' },
    'chain-id': { type: 'string', value: 'ID', help: 'chain id (default dev-<random>)' },
    billing: { type: 'boolean', help: 'a chain that demonstrates billing: EUR, a short billing cycle, an account per meter, autoIssue on (README "Billing walk-through")' },
    confidential: { type: 'boolean', help: 'every meter confidential (docs/protocol.md §11): readings sealed to its owner\'s and the operator\'s recipient keys, whose secrets are written to keys/recipients/ (mode 600)' },
    'cycle-s': { type: 'string', value: 'S', help: `with --billing: length of a billing period in seconds (default ${DEV_BILLING_CYCLE_MS / 1000})` },
  },
  async run(args) {
    const dataDir = resolve(need(args, 'data-dir', 'init'));
    const meters = intFlag(args, 'meters', 'init', 0, 100_000, 10)!;
    const alg = optionalString(args, 'meter-alg') ?? 'Ed25519';
    if (!ALGS.includes(alg as MeterAlgChoice)) throw new UsageError(`--meter-alg must be one of ${ALGS.join(', ')}`);
    const chainId = optionalString(args, 'chain-id');
    const billing = args.values.billing === true;
    const confidential = args.values.confidential === true;
    const cycleS = intFlag(args, 'cycle-s', 'init', 1, 366 * 86_400, DEV_BILLING_CYCLE_MS / 1000)!;
    if (!billing && args.values['cycle-s'] !== undefined) throw new UsageError('--cycle-s needs --billing');
    const { genesis, meterIds } = initDevChain(dataDir, {
      meters, meterAlg: alg as MeterAlgChoice, ...(chainId !== undefined ? { chainId } : {}), ...(billing ? { billing: { cycleMs: cycleS * 1000 } } : {}),
      ...(confidential ? { confidential } : {}),
    });
    const p = dataPaths(dataDir);
    out(`chain id: ${genesis.chainId}`);
    out(`genesis:  ${p.genesis}`);
    out(`keys:     ${p.validatorKey}, ${p.operatorKey}`);
    out(`meters:   ${meterIds.length} (${alg}) with keys in ${p.meterKeys}`);
    if (billing) {
      out(`billing:  EUR, a bill every ${cycleS} s per meter; accounts owner-0001.. and ${DEV_PAYEE} (keys in ${join(p.keys, 'accounts')});`);
      out(`          set up at the first start (deposits, tariff, agreements, mandates); autoIssue on in ${join(dataDir, 'config.json')}`);
    }
    if (confidential) {
      out(`sealed:   every meter confidential; recipient keys (owner and ${DEV_BILLER_RECIPIENT}) in ${join(p.keys, 'recipients')}`);
      out(`          open readings with: meterledger reading decrypt FILE --key ${p.recipientKey('<owner>')} --period-key F --data-dir ${dataDir}`);
    }
    out(`next:     meterledger start --data-dir ${dataDir}`);
    return 0;
  },
};
