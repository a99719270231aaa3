/** Account passwords: scrypt (RFC 7914) hashes in the scrypt$N$salt$hash format, checked fairly among sources. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashPassword, isPasswordHash, verifyPassword } from '../../../bridge/mqtt/password.js';

describe('hashPassword / verifyPassword', { timeout: 60_000 }, () => {
  test('format is scrypt$<N>$<salt b64>$<hash b64>, salted', () => {
    const h = hashPassword('s3cret');
    assert.match(h, /^scrypt\$16384\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(hashPassword('s3cret'), h, 'a fresh salt every time');
    assert.equal(isPasswordHash(h), true);
  });
  test('the right password verifies (string or CONNECT bytes), a wrong one does not', async () => {
    const h = hashPassword('s3cret');
    assert.equal(await verifyPassword('s3cret', h), 'ok');
    assert.equal(await verifyPassword(Buffer.from('s3cret'), h), 'ok');
    assert.equal(await verifyPassword('s3cret ', h), 'wrong');
    assert.equal(await verifyPassword('', h), 'wrong');
  });
  test('Unicode passwords are compared in NFC', async () => {
    assert.equal(await verifyPassword('caf\u0065\u0301', hashPassword('caf\u00e9')), 'ok');
  });
  test('malformed or hostile stored hashes never verify', async () => {
    for (const bad of ['', 'plain', 'scrypt$16384$$', 'scrypt$1000$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$1073741824$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'bcrypt$1$2$3']) {
      assert.equal(isPasswordHash(bad), false, bad);
      assert.equal(await verifyPassword('x', bad), 'wrong', bad);
    }
  });
});

describe('the shared scrypt queue', { timeout: 30_000 }, () => {
  test('one source floods it: its extra checks are refused at once, another source\'s check goes next', async () => {
    const h = hashPassword('s3cret');
    const order: string[] = [];
    const flood = Array.from({ length: 12 }, (_, i) => verifyPassword('guess', h, '198.51.100.7').then((r) => {
      order.push(`flood-${i}:${r}`);
      return r;
    }));
    const good = verifyPassword('s3cret', h, '203.0.113.9').then((r) => {
      order.push(`good:${r}`);
      return r;
    });
    const results = await Promise.all(flood);
    assert.equal(await good, 'ok');
    // At most two checks per source run or wait; the rest are refused without a check.
    assert.deepEqual(results.filter((r) => r === 'wrong').length, 2, order.join(' '));
    assert.deepEqual(results.filter((r) => r === 'busy').length, 10);
    // Round-robin by source: the good check runs right after the flood's first one.
    const checked = order.filter((o) => !o.endsWith(':busy'));
    assert.deepEqual(checked, ['flood-0:wrong', 'good:ok', 'flood-1:wrong']);
  });
});
