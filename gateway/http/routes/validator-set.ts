/**
 * The validator set (docs/protocol.md §13), public as block headers are: a verifier needs
 * it and it holds no personal data.
 * GET /api/v1/validator-set?height=H: the set in force at H (default: the next height),
 * known up to the head + VALSET_DELAY.
 * GET /api/v1/validator-set/changes: every committed change with its receipt, in order;
 * with Accept: application/cbor, the set changes of §13.5 (CBOR [receipt, ...]) that
 * `meterledger receipt verify --set-changes` and `verify --http` follow from genesis.
 */
import {
  type Receipt, type SetEpoch, StateKind, VALSET_DELAY, VALSET_STATE_ID, ValidatorSchedule, decodeAnyTx, encodeSetChanges, fromHex,
} from '../../../protocols/index.js';
import { HttpError } from '../errors.js';
import { intParam } from '../params.js';
import type { Route, HttpContext } from '../router.js';
import { receiptView } from '../views.js';

/** The stored epochs (ledger-node/state/valset.ts): each set, its first height, the change that made it and its height. */
type Epoch = SetEpoch & { readonly tx: string; readonly height: number };

const epochsOf = (ctx: HttpContext): readonly Epoch[] => (ctx.node.record(StateKind.ValidatorSet, VALSET_STATE_ID) as Epoch[] | undefined) ?? [];
const setView = (vs: SetEpoch['validators']) => vs.map((v) => ({ id: v.id, power: v.power, publicKey: v.publicKey }));
const OPS = ['', 'add', 'remove', 'power', 'rotate-key'];

async function changeReceipts(ctx: HttpContext): Promise<{ epoch: Epoch; receipt: Receipt }[]> {
  const out = [];
  for (const epoch of epochsOf(ctx)) {
    const receipt = await ctx.node.getTxReceipt(fromHex(epoch.tx, 'tx'));
    // The record names only committed changes: a missing one is a damaged store, not a 404.
    if (!receipt) throw new Error(`the receipt of set change ${epoch.tx} is missing from the store`);
    out.push({ epoch, receipt });
  }
  return out;
}

export const validatorSetRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/validator-set',
    handler: async (req, ctx) => {
      const head = ctx.node.status().height;
      const height = intParam('height', req.query.get('height'), { min: 1, dflt: head + 1 });
      if (height > head + VALSET_DELAY) throw new HttpError('E_VALSET_HEIGHT_UNKNOWN', `the set of height ${height} is not known yet: the head is ${head}, sets are known up to ${head + VALSET_DELAY}`);
      const epochs = epochsOf(ctx);
      const validators = new ValidatorSchedule(ctx.node.genesis.validators, epochs).at(height);
      const changes = epochs.filter((e) => e.from <= height).length;
      return { status: 200, json: { height, head, changes, totalPower: validators.reduce((p, v) => p + v.power, 0), validators: setView(validators) } };
    },
  },
  {
    method: 'GET', path: '/api/v1/validator-set/changes',
    handler: async (req, ctx) => {
      const list = await changeReceipts(ctx);
      const cbor = encodeSetChanges(list.map((c) => c.receipt));
      if (/\bapplication\/cbor\b/i.test(req.headers.accept ?? '')) return { status: 200, body: cbor, contentType: 'application/cbor' };
      const changes = list.map(({ epoch, receipt }, i) => {
        const b = decodeAnyTx(receipt.tx, Number.MAX_SAFE_INTEGER).body as { op: number; validator: string; power?: number; publicKey?: Uint8Array };
        return {
          seq: i + 1, height: epoch.height, from: epoch.from, op: OPS[b.op], validator: b.validator,
          ...(b.power !== undefined ? { power: b.power } : {}), ...(b.publicKey ? { publicKey: Buffer.from(b.publicKey).toString('hex') } : {}),
          txHash: epoch.tx, validators: setView(epoch.validators), receipt: receiptView(receipt),
        };
      });
      return { status: 200, json: { changes, cbor: Buffer.from(cbor).toString('hex') } };
    },
  },
];
