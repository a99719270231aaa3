/** Strict base64 (RFC 4648 §4): the standard alphabet, padded, no line breaks, canonical. */

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Characters of base64 text that decodes to at most `bytes` bytes. */
export const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/**
 * Decode strict base64, or undefined when the text is not. RFC 4648 §3.5: non-zero pad
 * bits make an encoding non-canonical; we refuse it, so one reading has one text form.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!B64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export const encodeBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
