/**
 * A confidential meter's sealed readings in the browser (docs/protocol.md §11): the owner
 * picks its recipient key file; the page fetches the meter's period key transactions
 * (GET /api/v1/meters/:id/period-keys), checks each receipt as verify.ts checks a reading's
 * (commit certificate, Merkle proof, the hash chain, and the meter's signature with the key
 * in force there: genesis, a later registration or a rotation), unwraps the
 * owner's copy (HPKE), derives each reading's content key and opens the readings here.
 * The key file is read into memory only: never stored, never sent (the gateway never
 * decrypts and never sees it).
 */
import { equalBytes, fromHex, toHex } from '../../../protocols/bytes.js';
import { kemFromName, recipientFromSecretKey, kemPublicKey } from '../../../protocols/confidential/hpke.js';
import { PERIOD_KEY_TX_TYPE, type PeriodKeyBody, openPeriodKey } from '../../../protocols/confidential/period-key.js';
import type { PeriodKeySchedule } from '../../../protocols/confidential/schedule.js';
import { type SealedReading, decodeSealedReadingTx, decryptReading } from '../../../protocols/confidential/sealed-reading.js';
import { decodeReceipt, type Receipt } from '../../../protocols/receipt.js';
import type { Reading, TxBody } from '../../../protocols/tx.js';
import { getJson, meterPath } from './api.js';
import type { PageContext } from './context.js';
import { h, replace } from './dom.js';
import { verifyMeterSigned } from './verify.js';

/** What the page shows of one reading of a confidential meter. */
export type SealedState =
  | { readonly kind: 'sealed'; readonly seq: bigint; readonly time: number }
  | { readonly kind: 'opened'; readonly reading: Reading };

const codeOf = (e: unknown): string | undefined => (e as { code?: unknown }).code as string | undefined;

export class SealedReadings {
  readonly panel: HTMLElement;
  private readonly status: HTMLElement;
  private schedules: PeriodKeySchedule[] = [];
  private readonly cache = new Map<bigint, { state: SealedState; body: SealedReading }>();

  constructor(private readonly meterId: string, private readonly ctx: PageContext, private readonly changed: () => void) {
    const input = h('input', { type: 'file', id: 'recipient-key', accept: '.key,.json,application/json' });
    this.status = h('p', { id: 'sealed-state', role: 'status' }, 'Sealed: the readings\' values are encrypted to the meter\'s recipients. Choose your recipient key file to open them here.');
    input.addEventListener('change', () => {
      const f = input.files?.[0];
      input.value = '';
      if (f) void this.useKeyFile(f);
    });
    this.panel = h('section', { 'aria-labelledby': 'sealed-h', id: 'sealed' },
      h('h2', { id: 'sealed-h' }, 'Sealed readings'),
      h('p', { class: 'note' }, 'Your key file stays in this page\'s memory: it is not stored and not sent anywhere. The page opens the readings itself.'),
      h('label', { for: 'recipient-key' }, 'Recipient key file '), input, this.status);
  }

  /** The sealed reading in a receipt the page fetched, checked against the trusted genesis; undefined when it is not one. */
  async check(receipt: Receipt | undefined, seq: bigint): Promise<SealedState | undefined> {
    if (!receipt || !this.ctx.genesis || !this.ctx.chain) return undefined;
    const hit = this.cache.get(seq);
    if (hit) return hit.state;
    let body: SealedReading;
    try {
      body = decodeSealedReadingTx(receipt.tx, this.ctx.genesis.params.maxTxBytes).body;
    } catch {
      return undefined;
    }
    if (body.meterId !== this.meterId || body.seq !== seq || !(await this.onChain(receipt))) return undefined;
    const s: SealedState = { kind: 'sealed', seq: body.seq, time: body.time };
    this.cache.set(seq, { state: s, body });
    return this.open(body) ?? s;
  }

  /** The state of seq: opened once a period key is unwrapped. */
  state(seq: bigint): SealedState | undefined {
    return this.cache.get(seq)?.state;
  }

  private open(body: SealedReading): SealedState | undefined {
    const k = this.schedules.find((x) => equalBytes(x.keyId, body.sealed.keyId));
    if (!k || !this.ctx.genesis) return undefined;
    const s: SealedState = { kind: 'opened', reading: decryptReading(this.ctx.genesis.chainId, k, body) };
    this.cache.set(body.seq, { state: s, body });
    return s;
  }

  /**
   * The receipt's transaction, when it is on the trusted chain and signed by this meter with
   * the key in force at its place (verify.ts: genesis, a later registration or rotation).
   */
  private async onChain(r: Receipt): Promise<TxBody | undefined> {
    try {
      const v = await verifyMeterSigned(this.ctx.chain!, r, this.meterId);
      return v.ok ? v.tx.body : undefined;
    } catch {
      return undefined;
    }
  }

  private say(text: string, alert = false): void {
    this.status.setAttribute('role', alert ? 'alert' : 'status');
    replace(this.status, text);
  }

  private async useKeyFile(f: File): Promise<void> {
    const g = this.ctx.genesis;
    if (!g) return this.say('No trusted genesis: nothing can be checked, so nothing is opened.', true);
    let id: string;
    let recipient;
    try {
      const j = JSON.parse(await f.text()) as { id?: unknown; kem?: unknown; secretKey?: unknown };
      if (typeof j.id !== 'string' || typeof j.kem !== 'string' || typeof j.secretKey !== 'string') throw new TypeError('needs id, kem and secretKey');
      const kem = kemFromName(j.kem);
      const sk = fromHex(j.secretKey, 'secretKey');
      kemPublicKey(kem, sk);
      id = j.id;
      recipient = recipientFromSecretKey(kem, sk);
    } catch (e) {
      return this.say(`Refused: ${f.name} is not a recipient key file ({"id", "kem", "secretKey"}): ${(e as Error).message} (E_KEY_INVALID)`, true);
    }
    this.say('Checking the period keys…');
    let list: { cbor: string }[];
    try {
      list = (await getJson<{ periodKeys: { cbor: string }[] }>(`${meterPath(this.meterId)}/period-keys`)).periodKeys;
    } catch (e) {
      return this.say(`Refused: ${(e as Error).message}${codeOf(e) ? ` (${codeOf(e)})` : ''}`, true);
    }
    const schedules: PeriodKeySchedule[] = [];
    for (const k of list) {
      let r: Receipt;
      try {
        r = decodeReceipt(fromHex(k.cbor, 'cbor'));
      } catch (e) {
        return this.say(`Refused: a period key receipt does not decode: ${(e as Error).message} (E_RECEIPT_MALFORMED)`, true);
      }
      const body = await this.onChain(r);
      if (body?.type !== PERIOD_KEY_TX_TYPE) {
        return this.say(`Refused: a period key transaction of block ${r.header.height} does not verify against the trusted genesis (E_RECEIPT_INVALID)`, true);
      }
      try {
        schedules.push(await openPeriodKey(g.chainId, body as PeriodKeyBody, id, recipient));
      } catch (e) {
        return this.say(`Refused: ${(e as Error).message} (${codeOf(e) ?? 'E_CONF_AUTH_FAILED'})`, true);
      }
    }
    this.schedules = schedules;
    let opened = 0;
    for (const { body } of [...this.cache.values()]) if (this.open(body)) opened++;
    this.say(`Opened ${opened} reading${opened === 1 ? '' : 's'} with ${id}: ${schedules.length} period key${schedules.length === 1 ? '' : 's'} (${schedules.map((s) => toHex(s.keyId).slice(0, 8)).join(', ')}), each checked on the chain from the trusted genesis.`);
    this.changed();
  }
}
