/**
 * One simulator per data dir at a time. Two runs driving the same meters would take each
 * other's MQTT sessions (one client id per meter) and send interleaved sequence numbers,
 * so the lower ones of each run would be refused as replays. The lock is a file holding
 * the owner's pid, created exclusively; one left by a run that died is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsError } from '../../ledger-node/fs-errors.js';
import { GatewayError } from '../errors.js';

export const SIM_LOCK_FILE = 'simulate.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

/** Take the data dir's simulator lock; the function returned gives it back (also done at exit). */
export function lockSimulator(dataDir: string): () => void {
  const path = join(dataDir, SIM_LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, `cannot create the simulator lock ${path}`);
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new GatewayError('E_SIM_BUSY', `another simulator (pid ${owner}) is driving the meters of ${dataDir}; ` +
          `wait for it to finish (two at once would take each other's sessions and make each other's readings replays)`);
      }
      if (attempt > 0) throw new GatewayError('E_SIM_BUSY', `cannot take the simulator lock ${path}`);
      unlinkSync(path); // left by a run that died
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  process.on('exit', release);
  return release;
}
