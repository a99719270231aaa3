/**
 * Interoperability with Eclipse Mosquitto's command-line clients (mosquitto_pub and
 * mosquitto_sub, Debian package mosquitto-clients): a second, independent MQTT 3.1.1
 * implementation talking to the broker. Missing tools fail the test; they are not skipped.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { HOST, startBroker, tokenFor } from './support.js';

const T = { timeout: 15_000 };

interface Run { code: number; stdout: string; stderr: string }

/**
 * A mosquitto_sub started with -d: `subscribed` resolves when it prints its SUBACK, so the
 * test publishes only once the subscription is in place; `done` resolves when it exits.
 */
function subscriber(args: string[], timeoutMs = 10_000): { subscribed: Promise<void>; done: Promise<Run> } {
  // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe, so the SUBACK line would come at exit.
  const p = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onSub: () => void = () => undefined;
  const subscribed = new Promise<void>((r) => (onSub = r));
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (/Subscribed \(mid/.test(stdout)) onSub();
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    p.once('error', (e) => reject(new Error(`mosquitto_sub: ${e.message} (apt-get install -y mosquitto-clients)`)));
    p.once('close', (code) => {
      clearTimeout(timer);
      // With -d the message, printed with -F, is the one line that is not debug output.
      const message = stdout.split('\n').filter((l) => l !== '' && !/^Client |^Subscribed /.test(l)).join('\n');
      resolve({ code: code ?? 1, stdout: message, stderr });
    });
  });
  return { subscribed: Promise.race([subscribed, done.then(() => undefined)]), done };
}

function run(cmd: string, args: string[], timeoutMs = 8000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        return reject(new Error(`${cmd} is not installed: apt-get install -y mosquitto-clients`));
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mosquitto_pub / mosquitto_sub interoperability', { timeout: 90_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let dir: string;
  const common = (): string[] => ['-h', HOST, '-p', String(broker.addresses().tcp!), '-V', 'mqttv311'];
  const creds = (meterId: string, clientId: string): string[] => ['-i', clientId, '-u', meterId, '-P', tokenFor(intake, meterId, clientId)];
  const file = (name: string, bytes: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  before(async () => {
    for (const tool of ['mosquitto_pub', 'mosquitto_sub']) {
      try {
        execFileSync(tool, ['--help'], { stdio: 'ignore' });
      } catch (e) {
        // --help exits non-zero; only a missing binary matters.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new Error(`${tool} is required by this test and is missing: apt-get install -y mosquitto-clients`);
        }
      }
    }
    dir = mkdtempSync(join(tmpdir(), 'meterledger-mosq-'));
    intake = await TestIntake.open(['m1', 'm2', 'gone']);
    await intake.revoke('gone');
    intake.holdCommitted = true; // receipts reach the bridge at commitPending(), as the tests expect
    broker = await startBroker(intake);
  });
  after(async () => {
    await broker?.close();
    await intake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('mosquitto_pub with a valid token publishes at QoS 1 and gets PUBACK after submit', T, async () => {
    intake.delayMs = 200;
    const r = await run('mosquitto_pub', [...common(), ...creds('m1', 'm1/pub'), '-q', '1', '-d', '-t', readingsTopic('m1'), '-f', file('r1.bin', intake.reading('m1', 1n))]);
    intake.delayMs = 0;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /received PUBACK/);
    assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
  });

  test('mosquitto_pub with a bad token or as a revoked meter is refused', T, async () => {
    const bad = await run('mosquitto_pub', [...common(), '-i', 'm1/x', '-u', 'm1', '-P', 'ml1.0.00', '-q', '1', '-t', readingsTopic('m1'), '-m', 'x']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bad user name or password/i);
    const revoked = await run('mosquitto_pub', [...common(), ...creds('gone', 'gone/x'), '-q', '1', '-t', readingsTopic('gone'), '-m', 'x']);
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stderr, /not authori[sz]ed/i);
  });

  test('mosquitto_sub on another meter\'s receipts gets SUBACK 128', T, async () => {
    const r = await run('mosquitto_sub', [...common(), ...creds('m1', 'm1/peek'), '-q', '1', '-d', '-W', '2', '-t', receiptsTopic('m2')]);
    assert.match(r.stdout, /Subscribed \(mid: \d+\): 128/);
  });

  test('a replayed reading: mosquitto_sub receives E_READING_SEQ_REPLAY on the receipts topic', T, async () => {
    const sub = subscriber([...common(), ...creds('m2', 'm2/sub'), '-q', '1', '-C', '1', '-W', '8', '-F', '%x', '-t', receiptsTopic('m2')]);
    await sub.subscribed;
    // Seq 7 twice in other bytes (the same bytes again would be a retransmission, accepted: docs/protocol.md §3.8).
    const reading = file('r2.bin', intake.reading('m2', 7n));
    const replay = file('r2b.bin', intake.reading('m2', 7n, 2000));
    assert.equal((await run('mosquitto_pub', [...common(), ...creds('m2', 'm2/pub'), '-q', '1', '-t', readingsTopic('m2'), '-f', reading])).code, 0);
    assert.equal((await run('mosquitto_pub', [...common(), ...creds('m2', 'm2/pub'), '-q', '1', '-t', readingsTopic('m2'), '-f', replay])).code, 0);
    const r = await sub.done;
    assert.equal(r.code, 0, r.stderr);
    const m = decodeReceiptsTopicMessage(new Uint8Array(Buffer.from(r.stdout.trim(), 'hex')));
    assert.equal(m.status === 'rejected' && m.code, 'E_READING_SEQ_REPLAY');
  });

  test('a committed receipt reaches mosquitto_sub', T, async () => {
    await intake.commitPending(); // earlier tests' readings: not this subscriber's concern
    const sub = subscriber([...common(), ...creds('m1', 'm1/sub'), '-q', '1', '-C', '1', '-W', '8', '-F', '%x', '-t', receiptsTopic('m1')]);
    await sub.subscribed;
    assert.equal((await run('mosquitto_pub', [...common(), ...creds('m1', 'm1/pub2'), '-q', '1', '-t', readingsTopic('m1'), '-f', file('r3.bin', intake.reading('m1', 2n))])).code, 0);
    await intake.commitPending();
    const r = await sub.done;
    assert.equal(r.code, 0, r.stderr);
    const m = decodeReceiptsTopicMessage(new Uint8Array(Buffer.from(r.stdout.trim(), 'hex')));
    assert.equal(m.status === 'committed' && m.seq, 2n);
  });
});
