/** Byte helpers over Uint8Array; pure and browser-safe (re-exported from @noble/hashes). */
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';

export { concatBytes };
export const toHex = bytesToHex;
export const utf8 = utf8ToBytes;

/** Hex to bytes, naming `field` in the error. */
export function fromHex(hex: string, field = 'hex'): Uint8Array {
  try {
    return hexToBytes(hex);
  } catch (cause) {
    throw new TypeError(`${field}: not an even-length hex string`, { cause });
  }
}

/** Constant-time equality (the length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const dec = new TextDecoder('utf-8', { fatal: true });
export const fromUtf8 = (b: Uint8Array): string => dec.decode(b);
