/**
 * Every decoder of bytes from the network refuses bad input with its own error class and
 * never with anything else (a TypeError or a cborg Error would escape the callers' handling
 * of refusals). Input: arbitrary bytes, and valid encodings from the vectors with random edits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ProtocolError, RejectionError, decodeBlock, decodeCommit, decodeHeader, decodeReceipt, decodeReceiptsTopicMessage, decodeTx, fromHex,
} from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';
import type { BlockFile, ReadingsFile } from '../../vectors/types.js';

/** Random edits of valid bytes: flip a bit, overwrite, insert, delete, truncate. */
function mutated(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 255 }));
  return fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => {
    let out = Array.from(b);
    for (const [pos, kind, byte] of edits) {
      const i = out.length === 0 ? 0 : pos % out.length;
      if (kind === 0) out[i] = (out[i] ?? 0) ^ (1 << (byte % 8));
      else if (kind === 1) out[i] = byte;
      else if (kind === 2) out.splice(i, 0, byte);
      else if (kind === 3) out.splice(i, 1);
      else out = out.slice(0, i);
    }
    return Uint8Array.from(out);
  });
}

/** Run `f`; anything it throws must be an instance of `allowed`. */
function onlyThrows(f: () => unknown, allowed: new (...a: never[]) => Error): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof allowed)) throw new Error(`threw a foreign error: ${String(e)}`, { cause: e });
  }
}

/** Both properties for one decoder: arbitrary bytes, and mutations of `valid`. */
function fuzz(decode: (b: Uint8Array) => unknown, allowed: new (...a: never[]) => Error, valid: Uint8Array[], numRuns = 400): void {
  for (const v of valid) assert.doesNotThrow(() => decode(v), 'the unmutated inputs are valid');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyThrows(() => decode(b), allowed)), { numRuns });
  fc.assert(fc.property(mutated(valid), (b) => onlyThrows(() => decode(b), allowed)), { numRuns });
}

const blk = readVector<BlockFile>('block.json');
const h = (x: string): Uint8Array => fromHex(x);

test('decodeTx throws only RejectionError on arbitrary and mutated bytes', () => {
  fuzz((b) => decodeTx(b), RejectionError, readVector<ReadingsFile>('readings.json').cases.map((c) => h(c.tx)), 500);
});

test('decodeHeader throws only ProtocolError on arbitrary and mutated bytes', () => {
  fuzz(decodeHeader, ProtocolError, [h(blk.headerBytes)]);
});

test('decodeBlock throws only ProtocolError on arbitrary and mutated bytes', () => {
  fuzz(decodeBlock, ProtocolError, [h(blk.blockBytes)]);
});

test('decodeCommit throws only ProtocolError on arbitrary and mutated bytes', () => {
  fuzz(decodeCommit, ProtocolError, [h(blk.commitBytes)]);
});

test('decodeReceipt throws only ProtocolError on arbitrary and mutated bytes', () => {
  fuzz(decodeReceipt, ProtocolError, [h(blk.receipt.bytes)]);
});

test('decodeReceiptsTopicMessage throws only ProtocolError on arbitrary and mutated bytes', () => {
  fuzz(decodeReceiptsTopicMessage, ProtocolError, [h(blk.receiptsTopic.committed), h(blk.receiptsTopic.rejected)]);
});
