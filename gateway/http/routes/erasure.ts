/**
 * POST /api/v1/admin/recipient-keys/erase {id} (operator token): erase the biller's recipient
 * key of that id from the running gateway (docs/protocol.md §11.8, docs/http-api.md): its
 * billing drops the key and every period key it opened with it, and bills no confidential
 * meter any more. `meterledger reading erase --key F --http URL` calls it, then erases the
 * file. Answers {id, held, dropped}: held false when this gateway holds no such key.
 */
import { RECIPIENT_ID_PATTERN } from '../../../protocols/index.js';
import { requireAdmin } from '../auth.js';
import { jsonBody, stringField } from '../body.js';
import type { Route } from '../router.js';

export const erasureRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v1/admin/recipient-keys/erase',
    handler: async (req, ctx) => {
      requireAdmin(req.headers, ctx.adminToken);
      const id = stringField(await jsonBody(req.body), 'id', RECIPIENT_ID_PATTERN);
      const r = ctx.eraseRecipientKey?.(id) ?? { held: false, dropped: 0 };
      ctx.logger.info({ recipientKey: id, ...r }, 'recipient key erasure asked');
      return { status: 200, json: { id, held: r.held, dropped: r.dropped } };
    },
  },
];
