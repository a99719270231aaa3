/**
 * Mutation checks: a copy of the compiled code in a temp dir with one rule weakened,
 * loaded as modules of its own, so that a test can show that the simulation notices
 * (a simulation that passes whatever the code does proves nothing). The production
 * code carries no test switches: the mutant is made from its text, and a replacement
 * that no longer matches fails loudly, so the check cannot go stale quietly.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** dist/ of this build (this file is dist/test/helpers/mutant.js). */
const DIST = fileURLToPath(new URL('../../', import.meta.url));

export interface Mutation {
  /** A file under dist/, e.g. 'ledger-node/consensus/votes.js'. */
  readonly file: string;
  readonly from: string;
  readonly to: string;
}

export interface Mutant {
  /** The copy's root (protocols/, ledger-node/, test/helpers/ below it). */
  readonly dir: string;
  /** Import a module of the mutated copy, e.g. 'test/helpers/consensus-sim.js'. */
  load<T>(module: string): Promise<T>;
  remove(): void;
}

export function makeMutant(mutations: readonly Mutation[]): Mutant {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-mutant-'));
  for (const sub of ['protocols', 'ledger-node', 'test/helpers']) cpSync(join(DIST, sub), join(dir, sub), { recursive: true });
  symlinkSync(join(DIST, '..', 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const m of mutations) {
    const path = join(dir, m.file);
    const text = readFileSync(path, 'utf8');
    const n = text.split(m.from).length - 1;
    if (n !== 1) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mutation of ${m.file}: "${m.from}" occurs ${n} times, expected once (the code changed: update the mutation)`);
    }
    writeFileSync(path, text.replace(m.from, m.to));
  }
  return {
    dir,
    load: async <T>(module: string) => (await import(pathToFileURL(join(dir, module)).href)) as T,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
