/** The gateway's HTTP API on a node in the test process: no metrics, ready, no MQTT clients, a silent log; loopback, a free port. */
import { silentLogger } from '../../ledger-node/api.js';
import type { LedgerNode } from '../../ledger-node/node.js';
import { type HttpApi, startHttpApi } from '../../gateway/http/server.js';

export function startTestHttpApi(node: LedgerNode, adminToken: string): Promise<HttpApi> {
  return startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0, adminToken, logger: silentLogger,
  }, '127.0.0.1', 0);
}
