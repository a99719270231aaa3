/**
 * The ledger's state as the rules see it: records keyed by (kind, id), changed only by
 * transactions in blocks. The rules are pure functions of a state view, a transaction and
 * the block it is in; they return the changes, which the node writes in the same batch as
 * the block (or, in a browser, a replay applies to its own map). One contract for every
 * kind, so a new feature adds kinds and rules, not mechanisms.
 *
 * Values are plain data that encode to deterministic CBOR (./cbor.ts): objects, arrays,
 * strings, integers (bigint above 2^53), booleans, Uint8Array. No classes, no floats.
 *
 * Transaction type numbers (label 0 of a transaction, ./tx.ts), one registry for all:
 *   1-4    readings and meters (./tx.ts)
 *   5      confidential period key (./confidential/)
 *   6-19   accounts, money and billing (docs/billing.md §13-20)
 *   20-29  the validator set (docs/consensus.md)
 */

/** The kinds of state record. Add a kind here when a feature adds one. */
export const StateKind = {
  Meter: 'meter',
  Account: 'account',
  Tariff: 'tariff',
  TariffVersion: 'tariffVersion',
  Agreement: 'agreement',
  Bill: 'bill',
  Mandate: 'mandate',
  Payment: 'payment',
  Dispute: 'dispute',
  Transfer: 'transfer',
  PeriodKey: 'periodKey',
  ValidatorSet: 'validatorSet',
} as const;
export type StateKind = (typeof StateKind)[keyof typeof StateKind];

/** Read access to the state as of some point (the committed head, or a block being built). */
export interface StateReader {
  get(kind: string, id: string): unknown;
}

/** One change a transaction makes: the new value of a record, or null to delete it. */
export interface StateChange {
  readonly kind: string;
  readonly id: string;
  readonly value: unknown;
}

/** What a rule may know of the block its transaction is in. */
export interface BlockContext {
  readonly height: number;
  /** The block header's time, ms since 1970-01-01T00:00:00Z. */
  readonly time: number;
}

/**
 * A state view with a block's changes so far laid over it: the rules of transaction N see
 * the changes of transactions 0..N-1 of the same block.
 */
export class StateOverlay implements StateReader {
  private readonly changes = new Map<string, StateChange>();

  constructor(private readonly base: StateReader) {}

  get(kind: string, id: string): unknown {
    const c = this.changes.get(key(kind, id));
    if (c) return c.value === null ? undefined : c.value;
    return this.base.get(kind, id);
  }

  apply(changes: readonly StateChange[]): void {
    for (const c of changes) this.changes.set(key(c.kind, c.id), c);
  }

  /** Every change laid over the base, one per record, in the order first changed. */
  list(): StateChange[] {
    return [...this.changes.values()];
  }
}

function key(kind: string, id: string): string {
  return `${kind.length}:${kind}${id}`;
}
