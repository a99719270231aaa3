/**
 * Independent signature vectors, read into one shape: Wycheproof (ed25519_test.json,
 * ecdsa_secp256r1_sha256_p1363_test.json), RFC 8032 §7.1 and ed25519-speccheck. The tests
 * of each verifier (noble in test/unit/protocols/, OpenSSL in test/unit/ledger-node/) run
 * every case and hold the answers to the vector's verdict, or, where a verifier is known to
 * answer otherwise, to wycheproof/expected-disagreements.json.
 */
import { Alg, fromHex } from '../../protocols/index.js';
import { readVector } from './generate.js';

export type Verdict = 'valid' | 'invalid' | 'acceptable';

/** Who answers: the project's two verifiers, and noble's ed25519.verify with its defaults. */
export type VerifierName = 'noble' | 'openssl' | 'nobleLibrary';

export interface SignatureCase {
  /** Path under test/vectors/. */
  readonly file: string;
  /** Wycheproof tcId, speccheck index, RFC 8032 test name. */
  readonly id: number | string;
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly msg: Uint8Array;
  readonly sig: Uint8Array;
  /** The vector's own verdict; speccheck has none. */
  readonly verdict: Verdict | undefined;
  readonly label: string;
}

export interface Disagreement {
  readonly file: string;
  readonly id: number | string;
  readonly verdict?: Verdict;
  /** publicKeyProblem refuses the key, so no verifier of the project ever sees it. */
  readonly keyRefused: boolean;
  readonly noble: boolean;
  readonly openssl: boolean;
  readonly nobleLibrary?: boolean;
  readonly reason: string;
}

export interface DisagreementsFile {
  readonly about: string;
  readonly verifiers: Record<VerifierName, string>;
  readonly cases: readonly Disagreement[];
}

interface WycheproofFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: {
    publicKey: { pk?: string; uncompressed?: string };
    sha?: string;
    tests: { tcId: number; comment: string; flags: string[]; msg: string; sig: string; result: Verdict }[];
  }[];
}

export const WYCHEPROOF_ED25519 = 'wycheproof/ed25519_test.json';
export const WYCHEPROOF_P256 = 'wycheproof/ecdsa_secp256r1_sha256_p1363_test.json';
export const RFC8032 = 'rfc8032.json';
export const SPECCHECK = 'ed25519-speccheck/cases.json';

function wycheproof(file: string, alg: Alg): SignatureCase[] {
  const w = readVector<WycheproofFile>(file);
  const cases = w.testGroups.flatMap((g) => {
    if (alg === Alg.ES256 && g.sha !== 'SHA-256') throw new Error(`${file}: a group hashes with ${g.sha}`);
    const pk = fromHex((alg === Alg.EdDSA ? g.publicKey.pk : g.publicKey.uncompressed)!);
    return g.tests.map((t) => ({
      file, id: t.tcId, alg, publicKey: pk, msg: fromHex(t.msg), sig: fromHex(t.sig), verdict: t.result,
      label: `${file} tcId ${t.tcId} (${t.result}; ${t.flags.join(', ')}${t.comment ? `; ${t.comment}` : ''})`,
    }));
  });
  if (cases.length !== w.numberOfTests) throw new Error(`${file}: ${cases.length} cases, header says ${w.numberOfTests}`);
  return cases;
}

export interface Rfc8032Vector { name: string; secretKey: string; publicKey: string; message: string; signature: string }

export const rfc8032Vectors = (): Rfc8032Vector[] => readVector<{ tests: Rfc8032Vector[] }>(RFC8032).tests;

function rfc8032(): SignatureCase[] {
  return rfc8032Vectors().map((t) => ({
    file: RFC8032, id: t.name, alg: Alg.EdDSA, publicKey: fromHex(t.publicKey), msg: fromHex(t.message), sig: fromHex(t.signature),
    verdict: 'valid' as const, label: `RFC 8032 §7.1 ${t.name}`,
  }));
}

function speccheck(): SignatureCase[] {
  return readVector<{ message: string; pub_key: string; signature: string }[]>(SPECCHECK).map((c, i) => ({
    file: SPECCHECK, id: i, alg: Alg.EdDSA, publicKey: fromHex(c.pub_key), msg: fromHex(c.message), sig: fromHex(c.signature),
    verdict: undefined, label: `${SPECCHECK} case ${i}`,
  }));
}

export const ed25519Cases = (): SignatureCase[] => [...wycheproof(WYCHEPROOF_ED25519, Alg.EdDSA), ...rfc8032(), ...speccheck()];
export const p256Cases = (): SignatureCase[] => wycheproof(WYCHEPROOF_P256, Alg.ES256);

export const disagreements = (): DisagreementsFile => readVector<DisagreementsFile>('wycheproof/expected-disagreements.json');

const keyOf = (file: string, id: number | string): string => `${file}#${id}`;

/**
 * What `who` must answer on `c`: the listed answer if the case is in the disagreements
 * file, else the vector's verdict. A case with no verdict (speccheck) or only an
 * "acceptable" one must be listed: what each verifier does with it is recorded there.
 */
export function expectedAnswer(list: DisagreementsFile, who: VerifierName, c: SignatureCase): boolean | string {
  const d = list.cases.find((x) => keyOf(x.file, x.id) === keyOf(c.file, c.id));
  if (d) {
    const v = d[who];
    return v ?? `${c.label}: listed without an answer for ${who}`;
  }
  if (c.verdict === 'valid') return true;
  if (c.verdict === 'invalid') return false;
  return `${c.label}: not listed, and the vector gives no valid/invalid verdict: record what each verifier does`;
}

/** Run `answer` on every case; the list of mismatches with their labels (empty when all hold). */
export function mismatches(list: DisagreementsFile, who: VerifierName, cases: readonly SignatureCase[], answer: (c: SignatureCase) => boolean): string[] {
  const out: string[] = [];
  for (const c of cases) {
    const want = expectedAnswer(list, who, c);
    if (typeof want === 'string') {
      out.push(want);
      continue;
    }
    const got = answer(c);
    if (got !== want) out.push(`${c.label}: ${who} says ${got ? 'valid' : 'invalid'}, expected ${want ? 'valid' : 'invalid'}`);
  }
  return out;
}
