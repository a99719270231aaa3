/**
 * Shared pieces of the MQTT integration tests: start a broker on 127.0.0.1 with ephemeral
 * ports and connect mqtt.js meters over TCP; the socket-free clients and raw packets are
 * in test/helpers/mqtt-client.ts.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MqttBroker, type MqttBrokerOptions } from '../../../bridge/mqtt/index.js';
import type { IntakePort } from '../../../protocols/index.js';
import type { MeterKeys } from '../../helpers/test-intake.js';
import { baseOptions, tokenFor } from '../../helpers/mqtt-client.js';

export * from '../../helpers/mqtt-client.js';

export const HOST = '127.0.0.1';

export async function startBroker(intake: IntakePort, extra: Partial<MqttBrokerOptions> = {}): Promise<MqttBroker> {
  return MqttBroker.start({ intake, tcp: { host: HOST, port: 0 }, ...extra });
}

/** An mqtt.js meter client on plain TCP with a fresh token. */
export function connectMeter(port: number, intake: MeterKeys, meterId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const clientId = extra.clientId ?? `${meterId}/c`;
  return mqtt.connectAsync(`mqtt://${HOST}:${port}`, {
    ...baseOptions, clientId, username: meterId, password: tokenFor(intake, meterId, clientId), ...extra,
  });
}
