/** The fixed-header guard (MQTT 3.1.1 §2.2): sizes are judged from the header, however bytes are split. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { FrameGuard, guardReads } from '../../../bridge/mqtt/frame-guard.js';
import { rawPacket } from '../../helpers/raw-mqtt.js';

/** A packet of `type` with a body of `bodyLength` bytes. */
const frame = (type: number, bodyLength: number): Buffer => rawPacket(type, Buffer.alloc(bodyLength, 7));

describe('FrameGuard', { timeout: 10_000 }, () => {
  test('§2.2.3 Remaining Length: a stream of packets within the limit passes, split anywhere (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
      (sizes, cuts) => {
        const bytes = Buffer.concat(sizes.map((s) => frame(0x30, s)));
        const g = new FrameGuard(300);
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          if (g.feed(bytes.subarray(at, at + n)) !== undefined) return false;
          at += n;
        }
        return true;
      }));
  });

  test('a packet over the limit is reported from its header, even fed byte by byte', () => {
    const g = new FrameGuard(1000);
    assert.equal(g.feed(frame(0x30, 10)), undefined);
    const big = frame(0x30, 1001).subarray(0, 3); // header only: 0x30, 2 length bytes
    assert.equal(g.feed(big.subarray(0, 1)), undefined);
    assert.equal(g.feed(big.subarray(1, 2)), undefined);
    assert.match(g.feed(big.subarray(2, 3)) ?? '', /1001 bytes exceeds the limit of 1000/);
  });

  test('a Remaining Length longer than four bytes is malformed', () => {
    assert.match(new FrameGuard(1e9).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0xff, 0x01)) ?? '', /malformed/);
  });

  test('the largest four-byte length (268,435,455) is decoded exactly', () => {
    assert.match(new FrameGuard(268_435_454).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0x7f)) ?? '', /268435455 bytes/);
    assert.equal(new FrameGuard(268_435_455).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0x7f)), undefined);
  });
});

describe('guardReads', { timeout: 10_000 }, () => {
  test('withholds the offending chunk and reports once', async () => {
    const s = new PassThrough();
    const reasons: string[] = [];
    guardReads(s, 100, (r) => reasons.push(r));
    s.write(frame(0x30, 10));
    await new Promise((r) => setImmediate(r));
    assert.equal((s.read() as Buffer).length, 12);
    s.write(frame(0x30, 200));
    await new Promise((r) => setImmediate(r));
    assert.equal(s.read(), null);
    assert.equal(reasons.length, 1);
  });
});
