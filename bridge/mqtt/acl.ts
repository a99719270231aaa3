/**
 * Who may publish, subscribe and receive what. Pure: topic matching per MQTT 3.1.1 §4.7
 * and the meterledger rules: a meter publishes only to `meters/<id>/readings` and
 * `meters/<id>/payments`, and subscribes only to `meters/<id>/receipts` and
 * `meters/<id>/bills`; nobody else touches `meters/`.
 *
 * Broad filters (`#`, `+/...`) are granted to accounts that are allowed them and to
 * anonymous clients; what keeps `meters/` out of their reach is the check of every
 * delivery (mayReceive), as mosquitto does, not a refusal at SUBSCRIBE.
 */
import { parseMeterTopic, readingsTopic, receiptRequestTopic, receiptsTopic } from '../../protocols/mqtt.js';
import { billsTopic, paymentsTopic } from '../../protocols/bills-topic.js';

/** The topics a meter receives on: its receipts and its bills (docs/protocol.md §8). */
const meterInbox = (meterId: string, topic: string): boolean => topic === receiptsTopic(meterId) || topic === billsTopic(meterId);

export type Principal =
  | { readonly kind: 'meter'; readonly meterId: string }
  | { readonly kind: 'account'; readonly username: string; readonly publish: readonly string[]; readonly subscribe: readonly string[] }
  | { readonly kind: 'anonymous' };

const METERS = 'meters';

/** [MQTT-4.7.1-2] '#' matches the parent and any number of levels; '+' one level. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] wildcards at the first level do not match topics starting with '$'.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** True when every topic `requested` matches is also matched by `allowed`. */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const wild = a[i] === '#' || a[i] === '+';
    if (i === 0 && wild && r[0]!.startsWith('$')) return false; // [MQTT-4.7.2-1]
    if (a[i] === '#') return true;
    if (i >= r.length) return false;
    if (r[i] === '#') return false;
    if (a[i] === '+') continue;
    if (a[i] !== r[i]) return false;
  }
  return a.length === r.length;
}

/** A filter or topic whose first level is `meters`: it names meters' topics only. */
export function inMeterNamespace(filter: string): boolean {
  return filter.split('/', 1)[0] === METERS;
}

export type PublishDecision =
  | { readonly kind: 'reading'; readonly meterId: string }
  /** A payment the meter signed, on its own payments topic (docs/protocol.md §8.7). */
  | { readonly kind: 'payment'; readonly meterId: string }
  /**
   * A request for a full receipt (docs/protocol.md §8.3.2) on a receipt-request topic:
   * `forMeter` is the meter the topic names, answered only when it is `meterId`.
   */
  | { readonly kind: 'receipt-request'; readonly meterId: string; readonly forMeter: string }
  /**
   * A meter publishing anywhere but its own readings topic: refused with
   * E_READING_WRONG_METER, acknowledged, forwarded to nobody. `topicMeterId` when the
   * topic is another meter's readings topic.
   */
  | { readonly kind: 'wrong-meter'; readonly meterId: string; readonly topicMeterId?: string }
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly reason: string };

export function decidePublish(p: Principal, topic: string): PublishDecision {
  if (p.kind === 'meter') {
    if (topic === readingsTopic(p.meterId)) return { kind: 'reading', meterId: p.meterId };
    if (topic === paymentsTopic(p.meterId)) return { kind: 'payment', meterId: p.meterId };
    const request = /^meters\/([^/+#]+)\/receipts\/get$/.exec(topic);
    if (request) return { kind: 'receipt-request', meterId: p.meterId, forMeter: request[1]! };
    const t = parseMeterTopic(topic);
    return t?.leaf === 'readings' ? { kind: 'wrong-meter', meterId: p.meterId, topicMeterId: t.meterId } : { kind: 'wrong-meter', meterId: p.meterId };
  }
  if (topic.startsWith('$')) return { kind: 'deny', reason: '$ topics are reserved for the broker' };
  if (inMeterNamespace(topic)) return { kind: 'deny', reason: 'only meters publish under meters/' };
  if (p.kind === 'anonymous') return { kind: 'allow' };
  return p.publish.some((f) => topicMatches(f, topic))
    ? { kind: 'allow' }
    : { kind: 'deny', reason: `account ${p.username} may not publish to ${topic}` };
}

/**
 * Whether `p` may hold a subscription to `filter`. A filter under `meters/` could only
 * ever deliver meters' topics, so it fails at once (SUBACK 0x80); a broad one is granted
 * and each delivery is checked by mayReceive.
 */
export function maySubscribe(p: Principal, filter: string): boolean {
  if (p.kind === 'meter') return meterInbox(p.meterId, filter);
  if (inMeterNamespace(filter)) return false;
  if (p.kind === 'anonymous') return !filter.startsWith('$');
  return p.subscribe.some((a) => filterCovers(a, filter));
}

/**
 * Whether a message on `topic` may be delivered to `p`, checked for every delivery and
 * every message queued for an offline session: a meter gets its own receipts and bills only,
 * nobody else anything under `meters/`, an account only what its subscribe filters match.
 */
export function mayReceive(p: Principal, topic: string): boolean {
  if (p.kind === 'meter') return meterInbox(p.meterId, topic);
  if (inMeterNamespace(topic)) return false;
  if (p.kind === 'anonymous') return !topic.startsWith('$');
  return p.subscribe.some((f) => topicMatches(f, topic));
}

/** A Will is a publish made on the client's behalf later; meters have no use for one. */
export function mayRegisterWill(p: Principal, topic: string): boolean {
  return p.kind !== 'meter' && decidePublish(p, topic).kind === 'allow';
}

/**
 * Problem with an account's configured filters, or undefined. `#` and `+/...` are fine
 * (deliveries under `meters/` are refused one by one); a filter naming `meters/` is not.
 */
export function accountFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter';
  if (inMeterNamespace(filter)) return `filter "${filter}" names meters/ (reserved for meters)`;
  return undefined;
}

/**
 * [MQTT-3.8.4-6] the QoS a message published at `published` goes out with: no more than
 * the highest QoS granted among the subscriptions matching `topic` ([MQTT-3.3.5-1]), or
 * as published when none matches (a queued message whose subscription went away).
 */
export function deliveryQos(granted: Iterable<readonly [filter: string, qos: number]>, topic: string, published: number): number {
  let max = -1;
  for (const [f, q] of granted) if (q > max && topicMatches(f, topic)) max = q;
  return max < 0 ? published : Math.min(published, max);
}
