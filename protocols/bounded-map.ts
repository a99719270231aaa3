/**
 * A Map that holds at most `max` entries: adding a new key to a full map first forgets
 * the oldest one. Keys are kept in insertion order (a Map's own), so `touch` (delete, then
 * set) makes an entry the newest. The one bounded cache of the code base: signature and
 * key caches, rate and login buckets, waiting receipts.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`BoundedMap max must be a whole number >= 1, got ${max}`);
  }

  override set(key: K, value: V): this {
    if (!this.has(key)) while (this.size >= this.max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }

  /** Set `key` to `value` as the newest entry. */
  touch(key: K, value: V): this {
    this.delete(key);
    return this.set(key, value);
  }
}
