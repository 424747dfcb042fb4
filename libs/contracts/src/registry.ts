import { z } from 'zod';
import type { MessageDefinition } from './define-message';
import { envelopeSchema, type Envelope } from './envelope';
import * as finance from './messages/finance-events';
import * as inventory from './messages/inventory-events';
import * as loyalty from './messages/loyalty-events';
import * as orders from './messages/orders-events';
import * as payments from './messages/payments-events';
import * as stripe from './messages/stripe-events';
import * as terminal from './messages/terminal-events';

export const allMessages: readonly MessageDefinition[] = [stripe, payments, finance, orders, inventory, loyalty, terminal]
  .flatMap((mod) => Object.values(mod) as unknown[])
  .filter((v): v is MessageDefinition => typeof v === 'object' && v !== null && 'schema' in v && 'topic' in v);

const byTypeVersion = new Map(allMessages.map((m) => [`${m.type}@${m.version}`, m]));

export function findMessage(type: string, version: number): MessageDefinition | undefined {
  return byTypeVersion.get(`${type}@${version}`);
}

export type ParseResult =
  | { ok: true; envelope: Envelope; definition: MessageDefinition }
  | { ok: false; reason: 'malformed' | 'unknown_type'; detail: string };

/**
 * Validates a raw Kafka value at the consuming edge. An envelope of an unknown type or version is reported as
 * such (consumers skip it: a newer producer may be ahead of them); a malformed one is an error for the DLQ.
 */
export function parseMessage(raw: Buffer | string | null, extra: readonly MessageDefinition[] = []): ParseResult {
  if (raw === null) return { ok: false, reason: 'malformed', detail: 'empty message value' };
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'value is not JSON' };
  }
  const env = envelopeSchema.safeParse(json);
  if (!env.success) return { ok: false, reason: 'malformed', detail: describe(env.error) };
  const definition =
    findMessage(env.data.type, env.data.version) ??
    extra.find((m) => m.type === env.data.type && m.version === env.data.version);
  if (!definition) return { ok: false, reason: 'unknown_type', detail: `${env.data.type}@${env.data.version}` };
  const data = definition.schema.safeParse(env.data.data);
  if (!data.success) return { ok: false, reason: 'malformed', detail: describe(data.error) };
  return { ok: true, envelope: { ...env.data, data: data.data }, definition };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
