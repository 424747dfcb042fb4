import type { Kafka } from 'kafkajs';

/** Creates missing topics with the configured partition count (never relies on broker auto-creation). */
export async function ensureTopics(kafka: Kafka, topics: string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 })),
    });
  } catch (error) {
    // Another replica may have created the same topic between list and create.
    if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
  } finally {
    await admin.disconnect();
  }
}

export async function pingKafka(kafka: Kafka): Promise<{ brokers: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    return { brokers: cluster.brokers.length };
  } finally {
    await admin.disconnect();
  }
}
