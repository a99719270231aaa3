/** Shapes of the JSON files in test/vectors/ (written by test/vectors/generate.ts). */
export interface ReadingVector {
  name: string;
  alg: 'Ed25519' | 'ES256';
  algId: -8 | -7;
  secretKey: string;
  publicKey: string;
  chainId: string;
  reading: { meterId: string; seq: string; time: number; importWh: number; exportWh?: number; powerW?: number };
  payload: string;
  protectedHeader: string;
  sigStructure: string;
  signature: string;
  highS?: boolean;
  tx: string;
  txHash: string;
}
export interface ReadingsFile { chainId: string; cases: ReadingVector[] }

export interface InvalidVector { name: string; stage: 'decode' | 'verify'; code: string; field?: string; tx: string }
export interface InvalidFile {
  chainId: string;
  maxTxBytes: number;
  keys: Record<string, { alg: string; publicKey: string }>;
  cases: InvalidVector[];
}

export interface MerkleFile {
  emptyTreeHash: string;
  leaves: string[];
  trees: { size: number; root: string; paths: string[][] }[];
}

export interface BlockFile {
  genesis: Record<string, unknown>;
  genesisHash: string;
  header: { chainId: string; height: number; time: number; prevHash: string; txRoot: string; txCount: number; proposer: string };
  headerBytes: string;
  blockHash: string;
  txs: string[];
  blockBytes: string;
  validatorSecretKeys: Record<string, string>;
  precommitSignBytes: string;
  prevoteNilSignBytes: string;
  commit: { height: number; round: number; blockHash: string; signatures: { validator: string; signature: string }[] };
  commitBytes: string;
  receipt: { index: number; txHash: string; proof: string[]; bytes: string };
  receiptVerifies: { height: number; signatureChecked: boolean };
  receiptsTopic: { committed: string; rejected: string };
}

export interface TokenFile {
  chainId: string;
  maxAgeMs: number;
  cases: {
    alg: 'Ed25519' | 'ES256';
    meterId: string;
    clientId: string;
    timeMs: number;
    secretKey: string;
    publicKey: string;
    signBytes: string;
    token: string;
    checks: { name: string; nowMs: number; clientId: string; ok: boolean }[];
  }[];
}
