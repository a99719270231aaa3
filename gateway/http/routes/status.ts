/** GET /api/v1/status: where the chain is and what this gateway is. */
import type { Route } from '../router.js';

export const statusRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/status',
    handler: async (_req, ctx) => {
      const s = ctx.node.status();
      const clients = ctx.mqttClients();
      const xmppState = ctx.xmppState?.();
      return {
        status: 200,
        json: {
          chainId: s.chainId, height: s.height, headHash: s.headHash, headTime: s.headTime ?? null,
          pending: s.pending, meters: s.meters, role: s.role, validatorId: s.validatorId ?? null, nodeId: s.nodeId,
          consensus: {
            round: s.round, peers: s.peers, nats: s.natsConnected ?? null, quorum: s.hasQuorum, behind: s.behind, syncing: s.syncing,
            voting: s.role === 'validator' && s.stateProblem === undefined, stateProblem: s.stateProblem ?? null,
            halted: s.halted ?? null,
          },
          ready: ctx.readiness().length === 0,
          mqtt: { clients: clients ?? null },
          ...(xmppState !== undefined ? { xmpp: { state: xmppState } } : {}),
        },
      };
    },
  },
];
