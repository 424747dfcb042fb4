import type { MessageDefinition } from '@omnipay/contracts';

export interface MessagingSettings {
  /** Service name: the envelope `source`, the client id and the default consumer group. */
  service: string;
  brokers: string[];
  /** TLS (with the CAs to trust, or the system's) and SASL to the brokers; unset: plaintext, no authentication. */
  ssl?: { ca?: string[] };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Prefix of every consumer group and client id: `<prefix>.<service>[.<module>]`. */
  groupPrefix: string;
  /** Prefix of every topic on the wire (empty in production; unique per test run). */
  topicPrefix: string;
  partitions: number;
  /** Partitions a consumer group applies at once; default 3. */
  consumerConcurrency?: number;
  sessionTimeoutMs: number;
  /** How long a running group may go without a fetch or with one chunk in hand before the watchdog acts; 0 = off. */
  watchdogMs?: number;
  maxAttempts: number;
  retryBackoffMs: number;
  relayEnabled: boolean;
  relayPollMs: number;
  /** Wait after a wake-up before a pass, so commits close together share it (like Kafka's `linger.ms`). */
  relayLingerMs?: number;
  /** Message kinds outside libs/contracts (test fixtures only). */
  extraMessages?: readonly MessageDefinition[];
}

export const MESSAGING_SETTINGS = Symbol('MESSAGING_SETTINGS');
export const KAFKA = Symbol('KAFKA');
