/** The QoS decision for one reading: ack only after the intake answered; BUSY is not acked. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { submitReading, wrongMeterRejection } from '../../../bridge/mqtt/readings.js';
import { type IntakePort, type SubmitResult, sha256 } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';

let intake: TestIntake;
before(async () => {
  intake = await TestIntake.open(['m1']);
});
after(() => intake.close());

const fixed = (r: SubmitResult | Error): Pick<IntakePort, 'submit'> => ({
  submit: () => (r instanceof Error ? Promise.reject(r) : Promise.resolve(r)),
});

describe('submitReading', { timeout: 10_000 }, () => {
  test('accepted: ack, nothing to tell', async () => {
    assert.deepEqual(await submitReading(intake, 'm1', intake.reading('m1', 1n), 4096), { ack: true });
  });
  test('rejected: ack and publish the rejection with its code and seq', async () => {
    // Seq 1 again with other bytes (the same bytes would be a retransmission, accepted: docs/protocol.md §3.8).
    const o = await submitReading(intake, 'm1', intake.reading('m1', 1n, 2000), 4096);
    assert.equal(o.ack, true);
    assert.equal(o.rejection?.status === 'rejected' && o.rejection.code, 'E_READING_SEQ_REPLAY');
    assert.equal(o.rejection?.status === 'rejected' && o.rejection.seq, 1n);
  });
  test('E_GATEWAY_BUSY: no ack, the rejection still goes out', async () => {
    const o = await submitReading(fixed({ status: 'rejected', txHash: new Uint8Array(32), code: 'E_GATEWAY_BUSY', message: 'full' }), 'm1', new Uint8Array(3), 4096);
    assert.equal(o.ack, false);
    assert.equal(o.rejection?.status === 'rejected' && o.rejection.code, 'E_GATEWAY_BUSY');
  });
  test('E_READING_RATE_LIMITED is acked (a disconnect would invite a resend loop)', async () => {
    const o = await submitReading(fixed({ status: 'rejected', txHash: new Uint8Array(32), code: 'E_READING_RATE_LIMITED', message: 'slow down' }), 'm1', new Uint8Array(3), 4096);
    assert.equal(o.ack, true);
  });
  test('an intake that throws gets no ack (nothing is known to be durable)', async () => {
    const o = await submitReading(fixed(new Error('boom')), 'm1', new Uint8Array(3), 4096);
    assert.equal(o.ack, false);
    assert.equal(o.rejection.status === 'rejected' && o.rejection.code, 'E_GATEWAY_BUSY');
  });
  test('larger than maxPayloadBytes: E_READING_TOO_LARGE without calling the intake', async () => {
    let called = false;
    const spy: Pick<IntakePort, 'submit'> = { submit: () => { called = true; throw new Error('must not be called'); } };
    const payload = new Uint8Array(101);
    const o = await submitReading(spy, 'm1', payload, 100);
    assert.equal(called, false);
    assert.equal(o.ack, true);
    assert.equal(o.rejection?.status === 'rejected' && o.rejection.code, 'E_READING_TOO_LARGE');
    assert.deepEqual(o.rejection?.txHash, sha256(payload));
  });
  test('the wrong-meter rejection names both meters and hashes the payload', () => {
    const r = wrongMeterRejection(Uint8Array.of(1, 2), 'm1', 'm2', 'meters/m2/readings');
    assert.equal(r.status === 'rejected' && r.code, 'E_READING_WRONG_METER');
    assert.match(r.status === 'rejected' ? r.message : '', /m1.*m2/);
    assert.deepEqual(r.txHash, sha256(Uint8Array.of(1, 2)));
  });
  test('a PUBLISH on a topic that is no readings topic is E_READING_WRONG_METER naming the topic', () => {
    const r = wrongMeterRejection(Uint8Array.of(3), 'm1', undefined, 'site/x');
    assert.equal(r.status === 'rejected' && r.code, 'E_READING_WRONG_METER');
    assert.match(r.status === 'rejected' ? r.message : '', /meters\/m1\/readings.*"site\/x"/);
  });
});
