/**
 * The filtering NATS proxy's parser (test/helpers/nats-filter-proxy.ts), which the fork
 * fault test relies on: whole messages found however TCP splits them, headers and reply
 * subjects read right, dropped messages gone without a trace, every other line untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameStream, type NatsFrame } from '../../helpers/nats-filter-proxy.js';

const up = [
  'CONNECT {"verbose":false,"headers":true}\r\n',
  'SUB ml.c.consensus 1\r\n',
  'PUB ml.c.consensus 5\r\nhello\r\n',
  'PUB ml.c.sync _INBOX.abc 3\r\nreq\r\n',
  'HPUB ml.c.tx 12 17\r\nNATS/1.0\r\n\r\nworld\r\n',
  'PING\r\n',
  'PUB ml.c.consensus 0\r\n\r\n',
].join('');
const down = [
  'INFO {"server_id":"x","max_payload":8388608}\r\n',
  'MSG ml.c.consensus 1 5\r\nhello\r\n',
  'MSG ml.c.sync 2 _INBOX.abc 3\r\nreq\r\n',
  'HMSG _INBOX.abc.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n',
  '+OK\r\n',
].join('');

function run(dir: 'up' | 'down', bytes: string, splitAt: number[], keep: (f: NatsFrame) => boolean): { out: string; frames: NatsFrame[] } {
  const frames: NatsFrame[] = [];
  let out = '';
  const s = new FrameStream(dir, (f) => {
    frames.push(f);
    return keep(f);
  }, (b) => {
    out += b.toString('latin1');
  });
  const all = Buffer.from(bytes, 'latin1');
  let at = 0;
  for (const cut of [...splitAt, all.length]) {
    s.push(all.subarray(at, cut));
    at = cut;
  }
  return { out, frames };
}

test('every split point: the same messages, subjects, reply-tos and payloads, and passing all changes nothing', () => {
  for (const [dir, bytes] of [['up', up], ['down', down]] as const) {
    const whole = run(dir, bytes, [], () => true);
    assert.equal(whole.out, bytes);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = run(dir, bytes, [cut], () => true);
      assert.equal(r.out, bytes, `${dir}, split at ${cut}`);
      assert.deepEqual(r.frames, whole.frames, `${dir}, split at ${cut}`);
    }
    const byByte = run(dir, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1), () => true);
    assert.equal(byByte.out, bytes);
  }
  const f = run('up', up, [], () => true).frames;
  assert.deepEqual(f.map((x) => [x.dir, x.subject, x.replyTo ?? null, Buffer.from(x.payload).toString()]), [
    ['up', 'ml.c.consensus', null, 'hello'], ['up', 'ml.c.sync', '_INBOX.abc', 'req'], ['up', 'ml.c.tx', null, 'world'], ['up', 'ml.c.consensus', null, ''],
  ]);
  const d = run('down', down, [], () => true).frames;
  assert.deepEqual(d.map((x) => [x.subject, x.replyTo ?? null, x.payload.length]), [['ml.c.consensus', null, 5], ['ml.c.sync', '_INBOX.abc', 3], ['_INBOX.abc.1', null, 0]]);
});

test('a dropped message leaves no bytes behind; the other lines pass', () => {
  const r = run('up', up, [7, 40, 41, 70], (x) => x.subject !== 'ml.c.consensus');
  assert.equal(r.out, up.replace('PUB ml.c.consensus 5\r\nhello\r\n', '').replace('PUB ml.c.consensus 0\r\n\r\n', ''));
  const none = run('down', down, [], () => false);
  assert.equal(none.out, 'INFO {"server_id":"x","max_payload":8388608}\r\n+OK\r\n');
});
