/** File-system failures carry a code naming the real cause, from Node and from LevelDB alike. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../protocols/index.js';
import { errnoOf, fsCodeOf, fsError, fsReason } from '../../../ledger-node/fs-errors.js';

const sys = (code: string, message = `${code}: something, open '/x'`) => Object.assign(new Error(message), { code });
/** What classic-level throws: a wrapper whose cause carries LevelDB's strerror text. */
const level = (text: string) => Object.assign(new Error('Database failed to open'), {
  code: 'LEVEL_DATABASE_NOT_OPEN', cause: Object.assign(new Error(`IO error: /x/store/LOCK: ${text}`), { code: 'LEVEL_IO_ERROR' }),
});

test('errno names from Node errors and LevelDB IO errors map onto stable E_FS_ codes', () => {
  for (const [e, errno, code] of [
    [sys('EROFS'), 'EROFS', 'E_FS_READ_ONLY'], [sys('EACCES'), 'EACCES', 'E_FS_PERMISSION'], [sys('ENOSPC'), 'ENOSPC', 'E_FS_FULL'],
    [level('Read-only file system'), 'EROFS', 'E_FS_READ_ONLY'], [level('Permission denied'), 'EACCES', 'E_FS_PERMISSION'],
    [level('No space left on device'), 'ENOSPC', 'E_FS_FULL'],
  ] as const) {
    assert.equal(errnoOf(e), errno);
    assert.equal(fsCodeOf(e), code);
  }
  assert.equal(fsReason(sys('EROFS')), 'read-only file system (EROFS)');
  const f = fsError(level('Read-only file system'), 'cannot open the store /x/store');
  assert.equal(f.message, 'cannot open the store /x/store: read-only file system (EROFS)');
  assert.equal((f as ProtocolError).code, 'E_FS_READ_ONLY');
});

test('errors that are not file-system ones, or already carry a code of ours, pass unchanged', () => {
  const ours = new ProtocolError('E_STORE_CORRUPT', 'bad', { cause: sys('EIO') });
  assert.equal(fsError(ours, 'x'), ours);
  const other = new TypeError('nope');
  assert.equal(fsError(other, 'x'), other);
  assert.equal(fsCodeOf(sys('EADDRINUSE')), undefined);
});
