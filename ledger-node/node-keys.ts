/**
 * The node's keys across a rotation of its own key (docs/consensus.md "Changing the
 * validator set", docs/protocol.md §13.6): keys/validator.key, and keys/validator.next.key
 * (0600, like every key file) where the operator puts the new key. The node loads it at
 * start, or, placed later, when a committed set names for us a key we do not hold (the
 * rotation's block), and switches by itself:
 *   - consensus signs each message with the key its height's set names (./consensus/signer.ts): the
 *     old key up to H + 1, the new one from H + 2 (H: the block holding the rotation);
 *   - envelopes are sealed with our latest committed key, the new one from H on, which is
 *     the key the peers check them with (setNodeKey after each block that changes the set);
 *   - once the new key is in force at the next height, and before anything of that height is
 *     signed, validator.next.key is renamed over validator.key and the folder synced, so the
 *     data dir holds the one key the chain names (the old key is gone; the CLI's approve and
 *     seal use the new one). Until then both files are on disk: a restart anywhere between
 *     loads both again, so nothing is ever signed with a key that is not in a file.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { toHex } from '../protocols/index.js';
import { type KeyPair, loadKeyFile } from './keyfile.js';

export const nextKeyPath = (validatorKey: string): string => join(dirname(validatorKey), 'validator.next.key');

export class NodeKeyRing {
  /** Every key held, by public key hex: the current first (the signer reads it as it grows). */
  readonly keys = new Map<string, KeyObject>();
  private current: KeyPair;
  private next: KeyPair | undefined;

  constructor(private readonly keyPath: string, current: KeyPair, next: KeyPair | undefined) {
    this.current = current;
    this.keys.set(toHex(current.publicKey), current.privateKey);
    this.take(next);
  }

  private take(next: KeyPair | undefined): void {
    if (next === undefined || this.keys.has(toHex(next.publicKey))) return;
    this.next = next;
    this.keys.set(toHex(next.publicKey), next.privateKey);
  }

  /**
   * The committed sets name `wanted` for us and we do not hold it: load
   * keys/validator.next.key if it is there now (a file placed while the node ran).
   * True when we hold `wanted` afterwards. Throws as loadKeyFile does (a file not 0600).
   */
  want(wanted: string | undefined): boolean {
    if (wanted === undefined || this.keys.has(wanted)) return wanted !== undefined;
    const file = nextKeyPath(this.keyPath);
    if (this.next === undefined && existsSync(file)) this.take(loadKeyFile(file));
    return this.keys.has(wanted);
  }

  /** keys/validator.key, and keys/validator.next.key when present (checked as every key file: 0600, an Ed25519 PKCS#8 PEM). */
  static load(validatorKey: string): NodeKeyRing {
    const nextFile = nextKeyPath(validatorKey);
    return new NodeKeyRing(validatorKey, loadKeyFile(validatorKey), existsSync(nextFile) ? loadKeyFile(nextFile) : undefined);
  }

  get currentHex(): string {
    return toHex(this.current.publicKey);
  }

  get nextHex(): string | undefined {
    return this.next ? toHex(this.next.publicKey) : undefined;
  }

  /** Do we hold this key (hex)? */
  holds(publicKeyHex: string | undefined): boolean {
    return publicKeyHex !== undefined && this.keys.has(publicKeyHex);
  }

  /** The key envelopes are sealed with: `latest` (our latest committed key) if we hold it, else the current one. */
  envelopeKey(latest: string | undefined): KeyObject {
    return (latest !== undefined ? this.keys.get(latest) : undefined) ?? this.current.privateKey;
  }

  /**
   * The set of the next height names `inForce` for us: when that is the next key, make it
   * the node key on disk (rename over validator.key, folder synced) and return true.
   */
  promoteIfInForce(inForce: string | undefined): boolean {
    if (!this.next || inForce !== toHex(this.next.publicKey)) return false;
    renameSync(nextKeyPath(this.keyPath), this.keyPath);
    const fd = openSync(dirname(this.keyPath), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.current = this.next;
    this.next = undefined;
    return true;
  }
}
