/**
 * The owner's account key, made and kept by this browser (docs/portal.md §Enrolment): an
 * ECDSA P-256 key pair from WebCrypto with a non-extractable private key, stored as the
 * CryptoKeyPair itself in IndexedDB (the browser keeps the private key opaque: no page
 * script, this one included, can read its bytes). One key per account id.
 */
const DB_NAME = 'meterledger';
const STORE = 'account-keys';

export interface StoredKey {
  readonly account: string;
  readonly keys: CryptoKeyPair;
  /** SEC1 uncompressed public key (65 bytes) as hex, as sent at enrolment. */
  readonly publicKey: string;
  readonly enrolled: number;
}

function db(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'account' });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB is not available'));
  });
}

async function run<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const d = await db();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = d.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    d.close();
  }
}

export const loadKey = async (account: string): Promise<StoredKey | undefined> => (await run('readonly', (s) => s.get(account))) as StoredKey | undefined;
export const saveKey = async (k: StoredKey): Promise<void> => {
  await run('readwrite', (s) => s.put(k));
};
export const deleteKey = async (account: string): Promise<void> => {
  await run('readwrite', (s) => s.delete(account));
};
export const storedAccounts = async (): Promise<string[]> => ((await run('readonly', (s) => s.getAllKeys())) as string[]).sort();

/** A new key pair: the private key can sign, never be exported. */
export async function newKeyPair(): Promise<{ keys: CryptoKeyPair; publicKey: string }> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  return { keys, publicKey: [...raw].map((b) => b.toString(16).padStart(2, '0')).join('') };
}

/** ECDSA P-256 with SHA-256: the 64-byte r‖s (IEEE P1363) signature, as ES256 wants it (RFC 9053 §2.1). */
export async function signBytes(k: StoredKey, bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.keys.privateKey, bytes as BufferSource));
}
