/**
 * The node's MessageSigner: Ed25519 (RFC 8032) with OpenSSL, the node key for what we sign
 * and the keys of each height's validator set for what peers signed, over the sign bytes
 * of protocols/peer-messages.ts (proposals, votes; the latter are what commit certificates hold).
 * One verifier for live votes and for the certificates sync fetches.
 *
 * A validator whose key is being rotated holds two keys (docs/consensus.md "Changing the
 * validator set"): it signs each message with the key its height's set names for it, so
 * the old key up to the height before the rotation is in force and the new one from it.
 */
import type { KeyObject } from 'node:crypto';
import { Alg, type BlockHeader, type CommitCertificate, commitProblem, fromHex, headerHash } from '../../protocols/index.js';
import { nativeSign, nativeVerify, publicKeyObject } from '../crypto/native.js';
import { peerMessageSignBytes, proposalSignBytes, voteBytesOf } from '../../protocols/index.js';
import { type BlockValue, idHash } from './messages.js';
import type { MessageSigner, SignedMessage } from './ports.js';
import type { ConsensusMessage, Validator, ValidatorSets } from './types.js';

export class Ed25519Signer implements MessageSigner {
  /** Key objects by public key hex: a set change keeps most keys. */
  private readonly keys = new Map<string, KeyObject>();

  /** `nodeKeys`: the node key, or every key the node holds by public key hex (the first is used where the set names none of them). */
  constructor(private readonly chainId: string, private readonly sets: ValidatorSets, private readonly nodeKeys: KeyObject | ReadonlyMap<string, KeyObject>) {}

  /** The key of `from` in the set of `height`, among ours. */
  private signingKey(height: number, from: string): KeyObject {
    const held = this.nodeKeys;
    if (!(held instanceof Map)) return held as KeyObject;
    const pk = this.sets(height)?.find((v) => v.id === from)?.publicKey;
    return (pk !== undefined ? held.get(pk) : undefined) ?? held.values().next().value!;
  }

  sign(m: ConsensusMessage<BlockValue>): SignedMessage {
    const chainId = this.chainId;
    const key = this.signingKey(m.height, m.from);
    if (m.type === 'proposal') {
      const blockHash = headerHash(m.value.block.header);
      const signature = nativeSign(Alg.EdDSA, key, proposalSignBytes(chainId, m.height, m.round, m.validRound, blockHash));
      return { t: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, blockBytes: m.value.bytes, block: m.value.block, blockHash, signature };
    }
    const v = { t: m.type, from: m.from, height: m.height, round: m.round, blockHash: idHash(m.valueId) } as const;
    return { ...v, signature: nativeSign(Alg.EdDSA, key, voteBytesOf(chainId, v)) };
  }

  verify(m: SignedMessage): boolean {
    const key = this.keyOf(this.sets(m.height)?.find((v) => v.id === m.from));
    if (!key) return false;
    return nativeVerify(Alg.EdDSA, key, peerMessageSignBytes(this.chainId, m), m.signature);
  }

  commitProblem(header: BlockHeader, commit: CommitCertificate): string | undefined {
    const set = this.sets(header.height);
    if (!set) return `the validator set of height ${header.height} is not known`;
    return commitProblem({ chainId: this.chainId, validators: set.map(asGenesisValidator) }, header, commit, (v, msg, sig) => {
      const key = this.keyOf(set.find((x) => x.id === v.id));
      return key !== undefined && nativeVerify(Alg.EdDSA, key, msg, sig);
    });
  }

  private keyOf(v: Validator | undefined): KeyObject | undefined {
    if (!v?.publicKey) return undefined;
    let k = this.keys.get(v.publicKey);
    if (!k) {
      k = publicKeyObject(Alg.EdDSA, fromHex(v.publicKey));
      this.keys.set(v.publicKey, k);
    }
    return k;
  }
}

/** A consensus validator as protocols' commitProblem takes one (node keys are Ed25519). */
export const asGenesisValidator = (v: Validator): { id: string; power: number; alg: 'Ed25519'; publicKey: string } =>
  ({ id: v.id, power: v.power, alg: 'Ed25519', publicKey: v.publicKey ?? '' });
