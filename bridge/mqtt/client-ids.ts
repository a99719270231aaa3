/**
 * Which meter a client id belongs to. MQTT sessions are keyed by client id alone
 * ([MQTT-3.1.2-4]), and a new CONNECT with the same id takes the session over or wipes
 * it ([MQTT-3.1.4-2], [MQTT-3.1.2-6]). Without this, any authenticated client could
 * end a meter's persistent session, and with it the receipts queued for the meter.
 *
 * Entries live as long as the broker (its sessions are in memory too): one per distinct
 * client id a meter has used since start.
 */
export class ClientIdOwners {
  private readonly owners = new Map<string, string>();

  /** Whether a client authenticated as `meterId` (undefined: not a meter) may use `clientId`. */
  claim(clientId: string, meterId: string | undefined): boolean {
    const owner = this.owners.get(clientId);
    if (owner !== undefined) return owner === meterId;
    if (meterId !== undefined) this.owners.set(clientId, meterId);
    return true;
  }
}
