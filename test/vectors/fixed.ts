/** What every vector file shares: the chain id and the fixed secrets (generate.ts re-exports both). */
import { sha256, utf8 } from '../../protocols/index.js';

export const CHAIN_ID = 'superenergy-test-1';

/** A fixed secret key: SHA-256 of a label. Valid for both curves (far below the P-256 order). */
export const seed = (label: string): Uint8Array => sha256(utf8(`meterledger/test-vector/${label}`));
