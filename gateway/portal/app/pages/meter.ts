/**
 * A meter: its latest verified reading, when it was last seen, gaps, usage charts by hour,
 * day and month, and its readings, each verified as it is shown; new receipts arrive live.
 */
import type uPlot from 'uplot';
import { type MeterInfo, type ReadingRow, clearToken, getJson, isRefusal, meterPath } from '../api.js';
import { signInForm } from '../sign-in.js';
import { drawChart } from '../chart.js';
import type { PageContext } from '../context.js';
import { ago, badge, h, kWh, replace, when } from '../dom.js';
import { openLive } from '../live.js';
import { notify, notifyControl } from '../notify.js';
import { type Unit, gaps, usage } from '../usage.js';
import type { ReceiptResult } from '../verify.js';
import { SealedReadings } from '../sealed.js';

/** Readings loaded and verified when the page opens (the latest ones). */
export const LOAD_READINGS = 300;
/** Rows shown in the readings table (latest first). */
const TABLE_ROWS = 50;
const PARALLEL = 4;

interface Row {
  readonly seq: bigint;
  result: ReceiptResult | undefined;
}

async function inParallel<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await f(items[i++]!);
  }));
}

export async function meterPage(main: HTMLElement, ctx: PageContext, meterId: string): Promise<void> {
  document.title = `Meter ${meterId} · meterledger portal`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(meterId)) {
    replace(main, h('h1', {}, 'Meter'), h('p', { role: 'alert' }, 'No valid meter id in the address: open a meter from the start page.'));
    return;
  }
  let info: MeterInfo;
  try {
    info = await getJson<MeterInfo>(meterPath(meterId));
  } catch (e) {
    replace(main, h('h1', {}, `Meter ${meterId}`), isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, (e as Error).message));
    return;
  }
  const rows = new Map<bigint, Row>();
  const summary = h('section', { 'aria-labelledby': 'summary-h' });
  const liveState = h('p', { class: 'live', id: 'live-state', role: 'status' }, 'live feed: connecting…');
  const chartEl = h('div', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'usage chart; the figures are in the table below it' });
  const figures = h('div', { id: 'figures' });
  const resetsEl = h('div', {});
  const table = h('div', { id: 'readings' });
  let unit: Unit = 'hour';
  let plot: uPlot | undefined;
  // A confidential meter's readings (../sealed.ts): shown sealed until the owner's key file opens them.
  const sealed = new SealedReadings(meterId, ctx, () => rerender());
  const sealedSlot = h('div', {});

  const unitPicker = h('fieldset', { class: 'units' }, h('legend', {}, 'Group by'),
    ...(['hour', 'day', 'month'] as const).map((u) => {
      const r = h('input', { type: 'radio', name: 'unit', id: `unit-${u}`, value: u, checked: u === unit });
      r.addEventListener('change', () => {
        unit = u;
        render();
      });
      return h('span', { class: 'unit' }, r, h('label', { for: `unit-${u}` }, u));
    }));

  replace(main,
    h('h1', {}, `Meter ${meterId}`),
    h('p', { class: 'note' }, 'Shown to this meter\'s owner and to the operator only: the gateway checks the token on every request.'),
    h('h2', { id: 'summary-h' }, 'Latest'), summary, liveState, notifyControl(), sealedSlot,
    h('section', { 'aria-labelledby': 'usage-h' }, h('h2', { id: 'usage-h' }, 'Usage'),
      h('p', { class: 'note' }, 'Energy per period from the differences of the verified register readings; a register that goes down counts nothing for that step.'),
      unitPicker, chartEl, resetsEl, h('details', {}, h('summary', {}, 'Figures'), figures)),
    h('section', { 'aria-labelledby': 'readings-h' }, h('h2', { id: 'readings-h' }, 'Readings'), table));

  const shown = (r: Row) => {
    const st = sealed.state(r.seq);
    return st ? (st.kind === 'opened' ? st.reading : undefined) : r.result?.verified ? r.result.reading : undefined;
  };
  const verifiedReadings = () => [...rows.values()].map(shown).filter((x) => x !== undefined);

  function render(): void {
    const ok = verifiedReadings();
    const all = [...rows.values()].sort((a, b) => (a.seq > b.seq ? -1 : 1));
    const failed = all.filter((r) => r.result && !r.result.verified && !sealed.state(r.seq)).length;
    const checking = all.filter((r) => !r.result).length;
    const latest = ok.reduce<(typeof ok)[number] | undefined>((m, r) => (!m || r.seq > m.seq ? r : m), undefined);
    const g = gaps(ok.map((r) => ({ seq: r.seq, time: r.time })));
    replace(summary,
      latest ? h('dl', { class: 'facts' },
        h('dt', {}, 'Import register'), h('dd', { id: 'latest-import' }, `${kWh(latest.importWh)} kWh `, badge('verified')),
        latest.exportWh !== undefined ? h('dt', {}, 'Export register') : null, latest.exportWh !== undefined ? h('dd', {}, `${kWh(latest.exportWh)} kWh`) : null,
        h('dt', {}, 'Last seen'), h('dd', { id: 'last-seen' }, `${when(latest.time)} (${ago(latest.time)}), seq ${latest.seq}`),
        h('dt', {}, 'Gaps'), h('dd', { id: 'gaps' }, g.missing.length === 0 && g.silences.length === 0 ? 'none among the loaded readings'
          : [g.missing.length ? `missing seqs ${g.missing.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ')}` : '',
            g.silences.length ? `${g.silences.length} silence${g.silences.length > 1 ? 's' : ''} longer than ${Math.round(g.thresholdMs / 60000)} min (last: ${when(g.silences.at(-1)!.from)} to ${when(g.silences.at(-1)!.to)})` : '',
          ].filter(Boolean).join('; ')),
        h('dt', {}, 'Checked'), h('dd', { id: 'checked' }, `${ok.length} verified`, failed ? `, ${failed} FAILED` : '', checking ? `, ${checking} checking…` : ''))
        : h('p', {}, checking ? 'Checking readings…' : info.lastSeq === '0' ? 'No readings yet.' : 'No verified reading.'));

    const u = usage(ok, meterId, unit);
    if (u.buckets.length > 0) {
      if (!plot) replace(chartEl);
      plot = drawChart(chartEl, u.buckets, unit, plot);
    } else {
      plot?.destroy();
      plot = undefined;
      replace(chartEl, h('p', {}, 'No verified readings to chart yet.'));
    }
    replace(resetsEl, u.resets.length ? h('p', { class: 'note', id: 'resets' }, `Register went down (meter replaced or rolled over): ${u.resets.map((r) => `${r.register} between seq ${r.fromSeq} and ${r.toSeq}`).join('; ')}. That step counts as 0.`) : null);
    const fmt = (t: number): string => unit === 'month' ? new Date(t).toLocaleDateString('en-GB', { year: 'numeric', month: 'short' })
      : unit === 'day' ? new Date(t).toLocaleDateString('en-GB', { dateStyle: 'medium' }) : when(t);
    replace(figures, h('table', {}, h('caption', {}, `kWh per ${unit}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, unit), h('th', { scope: 'col' }, 'import kWh'), h('th', { scope: 'col' }, 'export kWh'))),
      h('tbody', {}, ...u.buckets.map((b) => h('tr', {}, h('td', {}, fmt(b.start)), h('td', {}, kWh(b.importWh)), h('td', {}, kWh(b.exportWh)))))));

    replace(table, all.length === 0 ? h('p', {}, 'No readings.') : h('table', { class: 'readings' },
      h('caption', {}, `The latest ${Math.min(TABLE_ROWS, all.length)} of ${all.length} loaded readings, newest first`),
      h('thead', {}, h('tr', {}, ...['seq', 'time', 'import kWh', 'export kWh', 'block', 'check'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...all.slice(0, TABLE_ROWS).map((r) => {
        const res = r.result;
        const st = sealed.state(r.seq);
        const rd = shown(r);
        const failedCheck = st ? undefined : res?.checks.find((c) => !c.ok);
        return h('tr', { 'data-seq': r.seq.toString(), 'data-state': st ? st.kind : !res ? 'checking' : res.verified ? 'verified' : 'failed' },
          h('td', {}, r.seq.toString()),
          h('td', {}, rd ? when(rd.time) : st?.kind === 'sealed' ? when(st.time) : '—'),
          h('td', {}, rd ? kWh(rd.importWh) : st ? 'sealed' : '—'),
          h('td', {}, rd?.exportWh !== undefined ? kWh(rd.exportWh) : '—'),
          h('td', {}, res?.receipt ? String(res.receipt.header.height) : '—'),
          h('td', {}, !res ? badge('checking') : badge(res.verified || st ? 'verified' : 'failed'), ' ',
            failedCheck ? h('span', { class: 'why' }, `${failedCheck.name}: ${failedCheck.detail} `) : null,
            h('a', { href: `/portal/receipt?meter=${encodeURIComponent(meterId)}&seq=${r.seq}`, 'aria-label': `receipt of seq ${r.seq}` }, 'receipt')));
      }))));
  }

  let renderQueued = false;
  const rerender = (): void => {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  };

  async function loadAll(upTo: bigint): Promise<void> {
    const from = upTo > BigInt(LOAD_READINGS) ? upTo - BigInt(LOAD_READINGS) + 1n : 1n;
    const list: ReadingRow[] = [];
    for (let next: string | null = from.toString(); next !== null && list.length < LOAD_READINGS;) {
      const page: { readings: ReadingRow[]; nextFromSeq: string | null } = await getJson(`${meterPath(meterId)}/readings?fromSeq=${next}&limit=1000`);
      list.push(...page.readings);
      next = page.nextFromSeq;
    }
    const todo = list.map((r) => BigInt(r.seq)).filter((s) => !rows.get(s)?.result?.verified);
    for (const s of todo) rows.set(s, { seq: s, result: undefined });
    rerender();
    await inParallel(todo, PARALLEL, async (s) => {
      const res = await ctx.verify(meterId, s);
      if (!res.verified && (await sealed.check(res.receipt, s))) replace(sealedSlot, sealed.panel);
      rows.get(s)!.result = res;
      rerender();
    });
  }

  let lastSeq = BigInt(info.lastSeq);
  await loadAll(lastSeq);
  openLive(meterId, lastSeq, {
    receipt: (seq, bytes) => {
      if (liveState.dataset.silent === 'true') {
        delete liveState.dataset.silent;
        replace(liveState, 'live feed: connected, the meter is sending again');
      }
      const row: Row = { seq, result: undefined };
      rows.set(seq, row);
      if (seq > lastSeq) lastSeq = seq;
      rerender();
      void ctx.verifyBytes(bytes, meterId, seq).then(async (res) => {
        if (!res.verified && (await sealed.check(res.receipt, seq))) replace(sealedSlot, sealed.panel);
        row.result = res;
        rerender();
      });
    },
    refetch: (latest) => void loadAll(latest),
    state: (s) => replace(liveState, s === 'live' ? `live feed: connected, new readings appear here as they are committed` : 'live feed: reconnecting…'),
    silent: (e) => {
      const text = `${meterId} has sent nothing for ${Math.round((Date.now() - e.lastSeen) / 60_000)} min (last reading seq ${e.lastSeq}; silent after ${Math.round(e.thresholdMs / 1000)} s)`;
      replace(liveState, h('strong', { id: 'silent' }, 'Meter silent: '), text);
      liveState.dataset.silent = 'true';
      notify(`Meter ${meterId} is silent`, text, `silent-${meterId}`);
    },
    bills: (e) => {
      if (e.kind === 'bill') {
        notify(`New bill for ${meterId}`, `period ${e.period}`, `bill-${meterId}-${e.period}`);
        if (e.autopay !== undefined && e.autopay !== 'paid') notify(`Payment refused for ${meterId}`, `autopay of period ${e.period}: ${e.autopay}`, `pay-${meterId}-${e.period}`);
      } else if (e.status === 'paid') {
        notify(`Payment made for ${meterId}`, `period ${e.period}`, `pay-${meterId}-${e.period}`);
      } else {
        notify(`Payment refused for ${meterId}`, `${e.period !== undefined ? `period ${e.period}: ` : ''}${e.code ?? 'refused'}`, `pay-${meterId}-${e.period ?? 'unknown'}`);
      }
    },
    ended: (code, message) => {
      clearToken();
      liveState.setAttribute('role', 'alert');
      replace(liveState, h('strong', { id: 'session-ended' }, `Live feed stopped: ${message} (${code}). `), h('a', { href: location.href, id: 'sign-in-again' }, 'Sign in again'));
    },
  });
  main.dataset.loaded = 'true';
}
