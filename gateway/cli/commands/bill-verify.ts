/**
 * `meterledger bill verify FILE --genesis F`: check a bill bundle (docs/billing.md §22,
 * the JSON of GET /api/v1/bills/:meterId/:period/bundle) offline: every receipt against
 * the genesis, then the bill recomputed with the engine. A subcommand of its own file so
 * the `bill` command group can dispatch to it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BundleError, billBundleFromJson, formatTime, verifyBillBundle } from '../../../protocols/index.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, optionalString, out } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';

export const billVerifyCommand: CommandSpec = {
  name: 'bill verify',
  summary: 'Check a bill bundle offline: every receipt against the genesis, then the bill recomputed.',
  positionals: [{ name: 'FILE', help: 'the bundle: JSON of GET /api/v1/bills/:meterId/:period/bundle' }],
  options: {
    genesis: { type: 'string', value: 'F', help: 'the genesis file to trust' },
    'data-dir': { type: 'string', value: 'D', help: 'use <D>/genesis.json instead of --genesis' },
  },
  details: 'Exits 0 and prints the bill it proves, or exits 1 printing "FAILED: E_CODE: reason": E_BUNDLE_*\n' +
    '(docs/billing.md §22.2), an engine code, or E_BILL_MISMATCH naming the first line that differs.',
  async run(args) {
    const file = args.positionals[0]!;
    const gFile = optionalString(args, 'genesis');
    const dataDir = optionalString(args, 'data-dir');
    if (gFile === undefined && dataDir === undefined) throw new UsageError('give --genesis F (or --data-dir D) (see meterledger bill verify --help)');
    const genesis = gFile !== undefined ? loadGenesisFile(resolve(gFile)) : loadDataDirGenesis(dataDir!);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new GatewayError('E_IO', `cannot read ${file}: ${(cause as Error).message}`, { cause });
    }
    try {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new BundleError('E_BUNDLE_MALFORMED', `${file} is not JSON`);
      }
      const v = verifyBillBundle(genesis, billBundleFromJson(doc));
      const b = v.bill;
      out('valid bill: committed, and the same as recomputed from its receipts');
      out(`chain:     ${genesis.chainId}`);
      out(`meter:     ${b.meterId}`);
      out(`period:    ${b.period.label} (${formatTime(b.period.start)} to ${formatTime(b.period.end)})`);
      out(`total:     ${b.total} minor units of ${b.currency.code}, payee ${v.payee}`);
      out(`lines:     ${b.lines.length}`);
      out(`committed: height ${v.height}, computed at height ${v.computedAt}`);
      out(`from:      ${v.readings} readings, ${v.agreements} agreements, ${v.tariffVersions} tariff versions, each with a receipt`);
      return 0;
    } catch (e) {
      if (!(e instanceof BundleError)) throw e;
      out(`FAILED: ${e.code}: ${e.message}`);
      return 1;
    }
  },
};
