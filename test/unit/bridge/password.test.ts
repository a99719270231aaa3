/** Account passwords: scrypt (RFC 7914) hashes in the scrypt$N$salt$hash format. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashPassword, isPasswordHash, verifyPassword } from '../../../bridge/mqtt/password.js';

describe('hashPassword / verifyPassword', { timeout: 10_000 }, () => {
  test('format is scrypt$<N>$<salt b64>$<hash b64>, salted', () => {
    const h = hashPassword('s3cret');
    assert.match(h, /^scrypt\$16384\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(hashPassword('s3cret'), h, 'a fresh salt every time');
    assert.equal(isPasswordHash(h), true);
  });
  test('the right password verifies (string or CONNECT bytes), a wrong one does not', async () => {
    const h = hashPassword('s3cret');
    assert.equal(await verifyPassword('s3cret', h), true);
    assert.equal(await verifyPassword(Buffer.from('s3cret'), h), true);
    assert.equal(await verifyPassword('s3cret ', h), false);
    assert.equal(await verifyPassword('', h), false);
  });
  test('Unicode passwords are compared in NFC', async () => {
    assert.equal(await verifyPassword('caf\u0065\u0301', hashPassword('caf\u00e9')), true);
  });
  test('malformed or hostile stored hashes never verify', async () => {
    for (const bad of ['', 'plain', 'scrypt$16384$$', 'scrypt$1000$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$1073741824$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'bcrypt$1$2$3']) {
      assert.equal(isPasswordHash(bad), false, bad);
      assert.equal(await verifyPassword('x', bad), false, bad);
    }
  });
});
