/**
 * Blocks: one with its commit, its raw bytes (for remote audit), or a page of headers.
 * Headers, transaction hashes and commits are public: a verifier needs them and they
 * hold no personal data. The raw block holds every transaction's payload (readings:
 * consumption data) and needs the operator token (docs/http-api.md §Access).
 */
import { toHex } from '../../../protocols/index.js';
import { requireAdmin } from '../auth.js';
import { HttpError } from '../errors.js';
import { intParam } from '../params.js';
import type { Route } from '../router.js';
import { blockSummaryView, blockView } from '../views.js';

const MAX_LIST = 100;

export const blockRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/blocks',
    // Newest first, as docs/http-api.md says: `from` (default: the head) downwards.
    handler: async (req, ctx) => {
      const limit = intParam('limit', req.query.get('limit'), { min: 1, max: MAX_LIST, dflt: 20 });
      const head = ctx.node.status().height;
      const from = Math.min(head, intParam('from', req.query.get('from'), { min: 1, dflt: Math.max(1, head) }));
      const blocks = [];
      for (let h = from; h > from - limit && h >= 1; h--) {
        const b = await ctx.node.getBlock(h);
        if (b) blocks.push(blockSummaryView(b));
      }
      // next: the older page below this one; prev: the newer page above it (null at either end).
      const next = from - limit >= 1 ? from - limit : null;
      const prev = from < head ? Math.min(head, from + limit) : null;
      return { status: 200, json: { height: head, from, limit, next, prev, blocks } };
    },
  },
  {
    method: 'GET', path: '/api/v1/blocks/:height',
    handler: async (req, ctx) => {
      const height = intParam('height', req.params.height, { min: 1 });
      const b = await ctx.node.getBlock(height);
      if (!b) throw new HttpError('E_BLOCK_NOT_FOUND', `no block at height ${height}`);
      return { status: 200, json: blockView(b) };
    },
  },
  {
    method: 'GET', path: '/api/v1/blocks/:height/raw',
    handler: async (req, ctx) => {
      requireAdmin(req.headers, ctx.adminToken);
      const height = intParam('height', req.params.height, { min: 1 });
      const b = await ctx.node.getBlockBytes(height);
      if (!b) throw new HttpError('E_BLOCK_NOT_FOUND', `no block at height ${height}`);
      return { status: 200, json: { height, block: toHex(b.block), commit: toHex(b.commit) } };
    },
  },
];
