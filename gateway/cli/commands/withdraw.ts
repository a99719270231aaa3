/**
 * `meterledger withdraw`: the custodian's withdrawal (docs/billing.md §14): money the
 * custodian paid out of an account (to the owner's bank, a card refund), one signed
 * transaction through a gateway's POST /api/v1/tx, signed as custodian with the data dir's
 * keys/operator.key and sent with the admin token (a file or the environment). Idempotent
 * by the custodian's external reference, like `meterledger deposit`.
 */
import { LedgerTxType } from '../../../protocols/index.js';
import { type CommandSpec } from '../args.js';
import { operatorOptions, runCustodianTransfer } from '../billing-common.js';

export const withdrawCommand: CommandSpec = {
  name: 'withdraw',
  summary: 'Debit an account with money a custodian paid out of it, signed as custodian by keys/operator.key (idempotent by reference).',
  options: {
    ...operatorOptions('custodian'),
    account: { type: 'string', value: 'ID', required: true, help: 'the account debited' },
    amount: { type: 'string', value: 'AMT', required: true, help: 'whole minor units ("1234") or a decimal of the chain\'s currency ("12.34"); never rounded' },
    ref: { type: 'string', value: 'EXT', required: true, help: 'the custodian\'s external reference of the payout (1-128 characters): one withdrawal per reference' },
  },
  details: 'A withdrawal is at most the balance (E_ACCOUNT_INSUFFICIENT_FUNDS): a balance never goes negative.\n' +
    'A reference this custodian applied already (deposit or withdrawal) moves nothing again\n' +
    '(E_TRANSFER_DUPLICATE); the command says so and exits 0.',
  run: (args) => runCustodianTransfer(args, 'withdraw', LedgerTxType.Withdrawal, { noun: 'withdrawal', preposition: 'from', duplicate: 'was used before' }),
};
