/**
 * `meterledger dispute answer`: the biller's answer to a dispute (docs/billing.md §20), one
 * signed transaction through a gateway's POST /api/v1/tx, signed as biller with the data
 * dir's keys/operator.key and sent with the admin token (a file or the environment):
 *   --credit AMT   a credit note (18): AMT moves from the payee's account back to the
 *                  bill's account, and an open dispute becomes "credited";
 *   --reject       a dispute rejection (19): the open dispute becomes "rejected".
 * Either way --note says why (1-1024 characters) and is kept with the dispute.
 */
import { LedgerTxType } from '../../../protocols/index.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, need, optionalString, out } from '../args.js';
import { currencyOf, formatAmount, idFlag, operatorOptions, parseAmount, periodFlag, submitAsOperator } from '../billing-common.js';

export const disputeAnswerCommand: CommandSpec = {
  name: 'dispute answer',
  summary: 'Answer a dispute of a bill as its biller: a credit note (--credit AMT) or a rejection (--reject), with a note.',
  options: {
    ...operatorOptions('biller'),
    meter: { type: 'string', value: 'ID', required: true, help: 'the bill\'s meter' },
    period: { type: 'string', value: 'YYYY-MM', required: true, help: 'the bill\'s period ("YYYY-MM" or "cycle-N")' },
    credit: { type: 'string', value: 'AMT', help: 'credit note: whole minor units ("120") or a decimal of the currency ("1.20"); never rounded' },
    reject: { type: 'boolean', help: 'reject the open dispute' },
    note: { type: 'string', value: 'TEXT', required: true, help: 'the answer (1-1024 characters)' },
  },
  details: 'Signed by the bill\'s biller (E_BILL_NOT_BILLER otherwise). A credit note needs credited + AMT <= |total|\n' +
    '(E_CREDIT_EXCEEDS_BILL) and the payee\'s balance >= AMT (E_CREDIT_INSUFFICIENT_FUNDS); it may be given\n' +
    'without a dispute (to correct a billed period). A rejection needs an open dispute (E_DISPUTE_UNKNOWN).',
  async run(args) {
    const cmd = 'dispute answer';
    const meterId = idFlag(args, 'meter', cmd);
    const period = periodFlag(args, cmd);
    const note = need(args, 'note', cmd);
    const n = [...note].length;
    if (n < 1 || n > 1024) throw new UsageError('--note must be 1-1024 characters');
    const creditText = optionalString(args, 'credit');
    const reject = args.values.reject === true;
    if ((creditText === undefined) === !reject) throw new UsageError(`give exactly one of --credit AMT and --reject (see meterledger ${cmd} --help)`);
    let amount = 0n;
    const { txHash, genesis } = await submitAsOperator(args, cmd, (g) => {
      if (reject) return { type: LedgerTxType.DisputeReject, time: Date.now(), meterId, period, note };
      amount = parseAmount(creditText!, currencyOf(g).minorUnits, 'credit');
      return { type: LedgerTxType.CreditNote, time: Date.now(), meterId, period, amount, note };
    });
    out(reject
      ? `accepted: dispute of ${meterId} ${period} rejected (tx ${txHash})`
      : `accepted: credit note of ${formatAmount(amount, genesis.currency)} (${amount} minor units) on ${meterId} ${period} (tx ${txHash})`);
    return 0;
  },
};
