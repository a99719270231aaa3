/**
 * The node's MessageSigner: Ed25519 (RFC 8032) with OpenSSL, the node key for what we sign
 * and the validators' genesis keys for what peers signed, over the sign bytes of
 * ./messages.ts (proposals) and protocols' voteSignBytes (votes, commit certificates).
 * One verifier for live votes and for the certificates sync fetches.
 */
import type { KeyObject } from 'node:crypto';
import { Alg, type BlockHeader, type CommitCertificate, type Genesis, commitProblem, decodeKey, headerHash } from '../../protocols/index.js';
import { nativeSign, nativeVerify, publicKeyObject } from '../crypto/native.js';
import { type BlockValue, idHash, proposalSignBytes, voteBytesOf } from './messages.js';
import type { MessageSigner, SignedMessage } from './ports.js';
import type { ConsensusMessage } from './types.js';

export class Ed25519Signer implements MessageSigner {
  private readonly keys: ReadonlyMap<string, KeyObject>;

  constructor(private readonly genesis: Pick<Genesis, 'chainId' | 'validators'>, private readonly nodeKey: KeyObject) {
    this.keys = new Map(genesis.validators.map((v) => [v.id, publicKeyObject(Alg.EdDSA, decodeKey(v).publicKey)]));
  }

  sign(m: ConsensusMessage<BlockValue>): SignedMessage {
    const chainId = this.genesis.chainId;
    if (m.type === 'proposal') {
      const blockHash = headerHash(m.value.block.header);
      const signature = nativeSign(Alg.EdDSA, this.nodeKey, proposalSignBytes(chainId, m.height, m.round, m.validRound, blockHash));
      return { t: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, blockBytes: m.value.bytes, block: m.value.block, blockHash, signature };
    }
    const v = { t: m.type, from: m.from, height: m.height, round: m.round, blockHash: idHash(m.valueId) } as const;
    return { ...v, signature: nativeSign(Alg.EdDSA, this.nodeKey, voteBytesOf(chainId, v)) };
  }

  verify(m: SignedMessage): boolean {
    const key = this.keys.get(m.from);
    if (!key) return false;
    const chainId = this.genesis.chainId;
    const signed = m.t === 'proposal' ? proposalSignBytes(chainId, m.height, m.round, m.validRound, m.blockHash) : voteBytesOf(chainId, m);
    return nativeVerify(Alg.EdDSA, key, signed, m.signature);
  }

  commitProblem(header: BlockHeader, commit: CommitCertificate): string | undefined {
    return commitProblem(this.genesis, header, commit, (v, msg, sig) => {
      const key = this.keys.get(v.id);
      return key !== undefined && nativeVerify(Alg.EdDSA, key, msg, sig);
    });
  }
}
