/**
 * What the store takes on disk and what the disk has left, for the metrics. LevelDB's
 * approximateSize() counts only its sorted tables: a young store (everything still in its
 * log file) reads 0, and the write-ahead is not LevelDB at all. So the files are measured.
 * One stat at a time: the walk never holds more than one of libuv's threads, which
 * LevelDB shares, and it runs on a timer, never on the path of a reading.
 */
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/** Folders below `dir` this deep are counted (the store and the write-ahead are flat). */
const MAX_DEPTH = 4;

/** Bytes of the regular files under each of `dirs` (apparent size); a missing folder counts 0. */
export async function filesBytes(dirs: readonly string[]): Promise<number> {
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(path, depth + 1);
      } else if (e.isFile()) {
        // LevelDB deletes tables after a compaction: a file gone since readdir counts 0.
        total += await stat(path).then((s) => s.size, () => 0);
      }
    }
  };
  for (const d of dirs) await walk(d, 0);
  return total;
}

/** Bytes an unprivileged process may still write on the file system holding `path` (statfs f_bavail × f_bsize). */
export async function availableBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}
