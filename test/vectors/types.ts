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
  commitChecks: { cases: { name: string; commitBytes: string; valid: boolean }[] };
  receiptChecks: { cases: { name: string; bytes: string; error: string }[] };
  receiptsTopic: { committed: string; rejected: string; compact: string; requestBySeq: string; requestByTxHash: string };
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

export interface ConfidentialReadingVector {
  name: string;
  reading: { meterId: string; seq: string; time: number; importWh: number; exportWh?: number; powerW?: number };
  contentKeyInfo: string;
  contentKey: string;
  aeadKey: string;
  keyCommitment: string;
  iv: string;
  plaintext: string;
  protectedHeader: string;
  externalAad: string;
  encStructure: string;
  ciphertext: string;
  payload: string;
  sigStructure: string;
  tx: string;
  txHash: string;
}
export interface ConfidentialInvalidVector {
  name: string;
  check: 'decode' | 'decode-period-key' | 'nonce' | 'decrypt' | 'disclosure' | 'recipients' | 'unwrap';
  code: string;
  field?: string;
  tx: string;
  earlier?: string;
  disclosure?: string;
  recipientId?: string;
}
export interface ConfidentialFile {
  chainId: string;
  meter: { id: string; alg: 'Ed25519'; secretKey: string; publicKey: string };
  recipients: { id: string; role: string; kem: 'X25519' | 'P-256'; kemId: 16 | 32; secretKey: string; publicKey: string }[];
  period: string;
  periodKey: string;
  prk: string;
  keyIdInfo: string;
  keyId: string;
  aeadKeyInfo: string;
  keyCommitmentInfo: string;
  periodKeyTx: {
    type: 5; meterId: string; period: string; time: number; keyId: string;
    entries: { recipientId: string; kem: 'X25519' | 'P-256'; ikmE: string; skE: string; enc: string; info: string; sharedSecret: string; key: string; baseNonce: string; ciphertext: string }[];
    payload: string; tx: string; txHash: string;
  };
  readings: ConfidentialReadingVector[];
  disclosures: { of: string; bytes: string; values: ConfidentialReadingVector['reading'] }[];
  /** docs/billing.md §17.2: a bill's label 31 over readings `of`, and altered copies with their codes. */
  billDisclosures: { of: string[]; cbor: string; invalid: { name: string; cbor: string; code: string }[] };
  invalid: ConfidentialInvalidVector[];
}

/** test/vectors/rfc9180/base-mode.json: RFC 9180 Appendix A, transcribed. */
export interface Rfc9180File {
  source: string;
  vectors: {
    section: string; name: string; mode: 0; kem_id: 16 | 32; kdf_id: 1; aead_id: 1;
    info: string; ikmE: string; pkEm: string; skEm: string; ikmR: string; pkRm: string; skRm: string; enc: string;
    shared_secret: string; key_schedule_context: string; secret: string; key: string; base_nonce: string; exporter_secret: string;
    encryptions: { sequence_number: number; pt: string; aad: string; nonce: string; ct: string }[];
  }[];
}

export interface P2pValidVector {
  name: string;
  kind: 'consensus' | 'tx' | 'status' | 'sync-req' | 'sync-res';
  from: string;
  to: string;
  timeMs: number;
  payload: string;
  payloadDigest: string;
  header: string;
  signature: string;
  id: string;
  envelope: string;
}
export interface P2pFile {
  chainId: string;
  domain: string;
  windowMs: number;
  subjects: Record<string, string>;
  valid: P2pValidVector[];
  invalid: { name: string; expect: P2pValidVector['kind']; nowMs: number; code: string; envelope: string }[];
}

export interface BillingReadingJson { seq: string; time: number; importWh: number; exportWh?: number }
export interface BillingTariffVector { key: string; json: Record<string, unknown>; canonicalJson: Record<string, unknown>; cbor: string; id: string }
export interface BillingCaseVector {
  name: string;
  note: string;
  naive?: boolean;
  input: {
    meterId: string;
    period: string;
    currency: { code: string; minorUnits: number };
    cycle?: { epoch: number; lengthMs: number };
    agreements: { from: number; tariff: string | null }[];
    /** ids of tariff versions in `tariffs` */
    tariffs: string[];
    readings: BillingReadingJson[];
  };
  bill?: Record<string, unknown> & {
    period: { label: string; start: number; end: number };
    versions: { tariff: string; id: string }[];
    readings: string[];
    lines: ({ kind: 'standing'; version: number; days: string; pricePerDay: number; amount: number }
      | { kind: 'energy'; version: number; band: string; tier: number; energyWh: number; pricePerKWh: number; amount: number }
      | { kind: 'export'; version: number; energyWh: number; pricePerKWh: number; amount: number })[];
    total: number;
    resets: { register: string; fromSeq: string; toSeq: string }[];
  };
  billCbor?: string;
  registerDeltaWh?: number;
  pieces?: { from: number; to: number; version: number; band: number; importWh: number }[];
  error?: { code: string; field?: string };
}
export interface BillingFile {
  tariffs: BillingTariffVector[];
  invalidTariffs: { name: string; set: Record<string, unknown>; remove: string[]; code: string; field: string }[];
  invalidTariffCbor: { name: string; cbor: string; code: string; field?: string }[];
  roundHalfEven: { num: string; den: string; halfEven: string }[];
  localTime: { tariff: string; instant: number; instantText: string; offsetMinutes: number; localDate: string; hour: number; weekday: number; dayType: string }[];
  dayStarts: ({ tariff: string; localDate: string; start: number } | { tariff: string; month: string; start: number; end: number })[];
  bills: BillingCaseVector[];
}

export interface StateFile {
  chainId: string;
  readingWindow: { maxReadingPastMs: number; maxReadingFutureMs: number };
  steps: { name: string; blockTime: number; tx: string; result: string }[];
  sameReading: { cases: { name: string; a: string; b: string; same: boolean }[] };
}

export interface GenesisFile {
  cases: { name: string; doc: Record<string, unknown>; normalized: Record<string, unknown>; hash: string }[];
}
