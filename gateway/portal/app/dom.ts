/** A small DOM builder: text goes in as text nodes (never HTML), so nothing a server sends can run. */
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c)));
}

export const kWh = (wh: number | bigint): string => (Number(wh) / 1000).toLocaleString('en', { minimumFractionDigits: 3, maximumFractionDigits: 3 });

export const when = (ms: number): string => new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });

export function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return 'in the future';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** A short form of a hex hash for tables; the full value stays in the title. */
export const short = (hex: string): string => (hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-8)}` : hex);

/** A status badge: the word carries the meaning, the colour only repeats it. */
export function badge(state: 'verified' | 'failed' | 'checking' | 'unverified', text?: string): HTMLSpanElement {
  const label = text ?? ({ verified: 'verified', failed: 'FAILED', checking: 'checking…', unverified: 'not verified' } as const)[state];
  return h('span', { class: `badge ${state}` }, label);
}
