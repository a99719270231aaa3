/**
 * Which key of a meter verifies a reading at a given place in the chain (docs/protocol.md
 * §3.6, docs/portal.md): the genesis key (epoch 0) or the key of the last committed
 * registration (epoch 0) or rotation (epoch n) before the reading, unless a revocation
 * came first. Pure: the registry transactions are given already verified (verify.ts).
 */
import type { Alg } from '../../../protocols/keys.js';

/** Where a transaction is: block height and leaf index (chain order). */
export interface ChainPlace {
  readonly height: number;
  readonly index: number;
}

export type KeyEvent = ChainPlace & (
  | { readonly type: 'register'; readonly alg: Alg; readonly publicKey: Uint8Array }
  | { readonly type: 'rotate'; readonly alg: Alg; readonly publicKey: Uint8Array; readonly keyEpoch: number }
  | { readonly type: 'revoke' }
);

export interface KeyInForce {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly epoch: number;
  /** 'genesis', or the block the key's transaction is in. */
  readonly from: 'genesis' | number;
}

export type KeyAnswer = { readonly ok: true; readonly key: KeyInForce } | { readonly ok: false; readonly why: string };

const before = (a: ChainPlace, b: ChainPlace): boolean => a.height < b.height || (a.height === b.height && a.index < b.index);

/**
 * The key in force just before `at`: the registry as the ledger's rules applied it, in
 * chain order. A sequence the rules would have refused (a second registration, a rotation
 * skipping an epoch) is an answer of its own: the transactions cannot be the chain's.
 */
export function keyAt(genesisKey: { alg: Alg; publicKey: Uint8Array } | undefined, events: readonly KeyEvent[], at: ChainPlace): KeyAnswer {
  const sorted = [...events].sort((a, b) => a.height - b.height || a.index - b.index);
  let key: KeyInForce | undefined = genesisKey ? { ...genesisKey, epoch: 0, from: 'genesis' } : undefined;
  let revokedAt: number | undefined;
  for (const e of sorted) {
    if (!before(e, at)) break;
    if (revokedAt !== undefined) return { ok: false, why: `a registry transaction at block ${e.height} follows the revocation at block ${revokedAt}` };
    if (e.type === 'register') {
      if (key) return { ok: false, why: `a second registration at block ${e.height}: the ledger refuses that` };
      key = { alg: e.alg, publicKey: e.publicKey, epoch: 0, from: e.height };
    } else if (e.type === 'rotate') {
      if (!key) return { ok: false, why: `a rotation at block ${e.height} of a meter not registered yet` };
      if (e.keyEpoch !== key.epoch + 1) return { ok: false, why: `the rotation at block ${e.height} carries epoch ${e.keyEpoch}, not ${key.epoch + 1}` };
      key = { alg: e.alg, publicKey: e.publicKey, epoch: e.keyEpoch, from: e.height };
    } else {
      if (!key) return { ok: false, why: `a revocation at block ${e.height} of a meter not registered yet` };
      revokedAt = e.height;
    }
  }
  if (revokedAt !== undefined) return { ok: false, why: `the meter was revoked at block ${revokedAt}, before this reading` };
  if (!key) return { ok: false, why: `the meter has no key before block ${at.height}: not in genesis and no registration committed before it` };
  return { ok: true, key };
}
