/** Any reading's receipt, by meter and seq or meter and transaction hash, checked here step by step. */
import { type ReadingRow, getJson, meterPath } from '../api.js';
import type { PageContext } from '../context.js';
import { badge, h, kWh, replace, when } from '../dom.js';

/** Find the seq of a meter's reading by its transaction hash, paging through its readings. */
async function seqOfTx(meterId: string, txHash: string): Promise<bigint | undefined> {
  for (let next: string | null = '1'; next !== null;) {
    const page: { readings: ReadingRow[]; nextFromSeq: string | null } = await getJson(`${meterPath(meterId)}/readings?fromSeq=${next}&limit=1000`);
    const r = page.readings.find((x) => x.txHash === txHash);
    if (r) return BigInt(r.seq);
    next = page.nextFromSeq;
  }
  return undefined;
}

export async function receiptPage(main: HTMLElement, ctx: PageContext, q: URLSearchParams): Promise<void> {
  document.title = 'Check a receipt · meterledger portal';
  const meter = q.get('meter') ?? '';
  const seqText = q.get('seq') ?? '';
  const tx = (q.get('tx') ?? '').toLowerCase();
  const field = (id: string, label: string, value: string, hint: string, attrs: Record<string, string> = {}) => h('div', { class: 'field' },
    h('label', { for: id }, label), h('input', { id, name: id === 'r-meter' ? 'meter' : id === 'r-seq' ? 'seq' : 'tx', type: 'text', value, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${id}-hint`, ...attrs }),
    h('p', { class: 'hint', id: `${id}-hint` }, hint));
  const form = h('form', { action: '/portal/receipt', method: 'get' },
    field('r-meter', 'Meter id', meter, 'The meter whose reading it is.', { required: '' }),
    field('r-seq', 'Sequence number', seqText, 'The reading\'s seq, or leave empty and give the transaction hash.', { inputmode: 'numeric', pattern: '[0-9]{1,20}' }),
    field('r-tx', 'Transaction hash', tx, '64 hex digits, from a receipt or the meter page.', { pattern: '[0-9a-fA-F]{64}' }),
    h('button', { type: 'submit' }, 'Check receipt'));
  const out = h('section', { id: 'result', 'aria-live': 'polite', 'aria-labelledby': 'result-h' });
  replace(main, h('h1', {}, 'Check a receipt'),
    h('p', { class: 'note' }, 'The receipt is fetched from this gateway and checked in your browser: Merkle proof, hash chain to the trusted genesis, commit certificate and the meter\'s signature. Nothing the gateway says about it is taken on trust.'),
    form, out);
  if (!meter || (!seqText && !tx)) return;

  replace(out, h('h2', { id: 'result-h' }, 'Result'), h('p', {}, badge('checking')));
  let seq: bigint | undefined;
  try {
    seq = seqText ? BigInt(seqText) : /^[0-9a-f]{64}$/.test(tx) ? await seqOfTx(meter, tx) : undefined;
  } catch (e) {
    replace(out, h('h2', { id: 'result-h' }, 'Result'), h('p', { role: 'alert' }, badge('failed'), ` ${(e as Error).message}`));
    return;
  }
  if (seq === undefined) {
    replace(out, h('h2', { id: 'result-h' }, 'Result'), h('p', { role: 'alert' }, badge('failed'), ` no committed reading of ${meter} has that transaction hash (or the seq is not a number)`));
    return;
  }
  const res = await ctx.verify(meter, seq);
  const rd = res.reading;
  replace(out,
    h('h2', { id: 'result-h' }, 'Result: ', res.verified ? badge('verified', 'verified') : badge('failed', 'FAILED')),
    h('ul', { class: 'checks' }, ...res.checks.map((c) => h('li', { 'data-check': c.name, 'data-ok': String(c.ok) },
      h('span', { class: `badge ${c.ok ? 'verified' : 'failed'}` }, c.ok ? 'pass' : 'FAIL'), ` ${c.name}: `, c.detail))),
    rd && res.verified ? h('dl', { class: 'facts' },
      h('dt', {}, 'Meter'), h('dd', {}, rd.meterId), h('dt', {}, 'Seq'), h('dd', {}, rd.seq.toString()),
      h('dt', {}, 'Time (signed by the meter)'), h('dd', {}, when(rd.time)),
      h('dt', {}, 'Import register'), h('dd', {}, `${kWh(rd.importWh)} kWh`),
      rd.exportWh !== undefined ? h('dt', {}, 'Export register') : null, rd.exportWh !== undefined ? h('dd', {}, `${kWh(rd.exportWh)} kWh`) : null,
      h('dt', {}, 'Block'), h('dd', {}, `${res.receipt!.header.height}, hash `, h('code', { class: 'hash' }, res.blockHash!)),
      h('dt', {}, 'Transaction hash'), h('dd', {}, h('code', { class: 'hash' }, res.txHash!)),
      h('dt', {}, 'Trusted genesis'), h('dd', {}, h('code', { class: 'hash' }, ctx.trust.kind === 'mismatch' ? '—' : ctx.trust.hash)))
      : h('p', {}, 'The reading\'s figures are not shown: the receipt did not verify.'));
}
