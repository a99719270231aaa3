/**
 * File-system failures with a stable code that names the real cause: a read-only disk
 * is E_FS_READ_ONLY, missing rights E_FS_PERMISSION, a full disk E_FS_FULL. Node's errno
 * codes (EROFS, EACCES ...) and LevelDB's IO error texts ("Read-only file system") map
 * onto the same codes, so the operator reads one word whichever layer failed.
 */
import { type Code, ProtocolError } from '../protocols/index.js';

const BY_ERRNO: Readonly<Record<string, { code: Code; plain: string }>> = {
  EACCES: { code: 'E_FS_PERMISSION', plain: 'permission denied' },
  EPERM: { code: 'E_FS_PERMISSION', plain: 'operation not permitted' },
  EROFS: { code: 'E_FS_READ_ONLY', plain: 'read-only file system' },
  ENOSPC: { code: 'E_FS_FULL', plain: 'no space left on device' },
  EDQUOT: { code: 'E_FS_FULL', plain: 'disk quota exceeded' },
  ENOENT: { code: 'E_FS_NOT_FOUND', plain: 'no such file or directory' },
  ENOTDIR: { code: 'E_FS_NOT_FOUND', plain: 'a part of the path is not a directory' },
  EISDIR: { code: 'E_FS_IS_DIRECTORY', plain: 'is a directory' },
  EIO: { code: 'E_FS_IO', plain: 'input/output error (a failing disk?)' },
  EMFILE: { code: 'E_FS_TOO_MANY_FILES', plain: 'too many open files (raise LimitNOFILE / ulimit -n)' },
  ENFILE: { code: 'E_FS_TOO_MANY_FILES', plain: 'too many open files in the system' },
};

/** LevelDB reports strerror() text, not the errno name. */
const LEVELDB_TEXT: readonly [RegExp, string][] = [
  [/Permission denied/i, 'EACCES'],
  [/Operation not permitted/i, 'EPERM'],
  [/Read-only file system/i, 'EROFS'],
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/No such file or directory/i, 'ENOENT'],
  [/Input\/output error/i, 'EIO'],
  [/Too many open files/i, 'EMFILE'],
];

export class FsError extends ProtocolError {}

/**
 * The errno name of a Node system error, or of a LevelDB IO error (its cause chain searched,
 * up to an error that has a code of ours: that one already says what went wrong).
 */
export function errnoOf(e: unknown): string | undefined {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && BY_ERRNO[code]) return code;
    if (typeof code === 'string' && /^E_[A-Z0-9_]+$/.test(code)) return undefined;
    const msg = (x as { message?: unknown }).message;
    if (typeof msg === 'string' && /IO error/.test(msg)) {
      const hit = LEVELDB_TEXT.find(([re]) => re.test(msg));
      if (hit) return hit[1];
    }
  }
  return undefined;
}

/** The stable code of a file-system failure, or undefined when `e` is not one. */
export function fsCodeOf(e: unknown): Code | undefined {
  const errno = errnoOf(e);
  return errno ? BY_ERRNO[errno]!.code : undefined;
}

/** "permission denied (EACCES)", or the error's own message when it is not a file-system one. */
export function fsReason(e: unknown): string {
  const errno = errnoOf(e);
  return errno ? `${BY_ERRNO[errno]!.plain} (${errno})` : (e as Error)?.message ?? String(e);
}

/**
 * `what` (e.g. "cannot create /srv/ml/keys") with the cause, as an FsError with the
 * cause's stable code; an error that is not a file-system one is returned unchanged.
 */
export function fsError(e: unknown, what: string): Error {
  const code = fsCodeOf(e);
  if (!code) return e instanceof Error ? e : new Error(String(e));
  return new FsError(code, `${what}: ${fsReason(e)}`, { cause: e });
}
