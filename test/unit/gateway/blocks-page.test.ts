/** GET /api/v1/blocks pages newest first, as docs/http-api.md says; `next` goes down, `prev` up. */
import { test } from 'node:test';
import { SessionStore } from '../../../gateway/http/sessions.js';
import { RequestLimits } from '../../../gateway/http/limits.js';
import assert from 'node:assert/strict';
import type { HttpContext, HttpRequest } from '../../../gateway/http/router.js';
import { blockRoutes } from '../../../gateway/http/routes/blocks.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { makeFakeLedger } from '../../helpers/fake-ledger.js';

const list = blockRoutes.find((r) => r.path === '/api/v1/blocks')!;

/** A ledger of `head` blocks (copies of the fake's block 1 at each height). */
function ctxWith(head: number): HttpContext {
  const fake = makeFakeLedger();
  const node = {
    ...fake,
    status: () => ({ ...fake.status(), height: head }),
    getBlock: async (h: number) => {
      const b = (await fake.getBlock(1))!;
      return h >= 1 && h <= head ? { ...b, header: { ...b.header, height: h } } : undefined;
    },
  };
  return { node, scrapeMetrics: async () => ({ contentType: '', body: '' }), readiness: () => [], mqttClients: () => 0, adminToken: undefined, logger: silentLogger, sessions: new SessionStore(), limits: new RequestLimits() };
}

async function page(ctx: HttpContext, query: string) {
  const req: HttpRequest = { method: 'GET', path: '/api/v1/blocks', params: {}, query: new URLSearchParams(query), headers: {}, remote: '127.0.0.1', body: async () => new Uint8Array() };
  const r = await list.handler(req, ctx);
  const j = (r as { json: { from: number; next: number | null; prev: number | null; height: number; blocks: { height: number }[] } }).json;
  return { from: j.from, next: j.next, prev: j.prev, heights: j.blocks.map((b) => b.height) };
}

test('default: the newest page, newest first; next is the page below', async () => {
  const ctx = ctxWith(45);
  assert.deepEqual(await page(ctx, ''), { from: 45, next: 25, prev: null, heights: Array.from({ length: 20 }, (_, i) => 45 - i) });
});

test('following next walks down to block 1 and stops; prev walks back up to the head', async () => {
  const ctx = ctxWith(45);
  const seen: number[] = [];
  let q = 'limit=20';
  const froms: number[] = [];
  for (;;) {
    const p = await page(ctx, q);
    froms.push(p.from);
    seen.push(...p.heights);
    if (p.next === null) break;
    q = `from=${p.next}&limit=20`;
  }
  assert.deepEqual(froms, [45, 25, 5]);
  assert.deepEqual(seen, Array.from({ length: 45 }, (_, i) => 45 - i), 'every block once, newest first');
  assert.deepEqual(await page(ctx, 'from=5&limit=20'), { from: 5, next: null, prev: 25, heights: [5, 4, 3, 2, 1] });
  assert.equal((await page(ctx, 'from=25&limit=20')).prev, 45);
  assert.equal((await page(ctx, 'from=40&limit=20')).prev, 45, 'the page above is capped at the head');
});

test('from above the head starts at the head; an empty chain is an empty page', async () => {
  assert.deepEqual(await page(ctxWith(3), 'from=100'), { from: 3, next: null, prev: null, heights: [3, 2, 1] });
  assert.deepEqual(await page(ctxWith(0), ''), { from: 0, next: null, prev: null, heights: [] });
  assert.deepEqual(await page(ctxWith(10), 'from=10&limit=10'), { from: 10, next: null, prev: null, heights: [10, 9, 8, 7, 6, 5, 4, 3, 2, 1] });
  assert.deepEqual(await page(ctxWith(11), 'from=10&limit=10'), { from: 10, next: null, prev: 11, heights: [10, 9, 8, 7, 6, 5, 4, 3, 2, 1] });
});
