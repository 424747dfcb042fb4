import type { Admin } from 'kafkajs';

export interface PartitionLag {
  groupId: string;
  /** The wire topic, as the broker names it. */
  topic: string;
  partition: number;
  /** Messages after the group's committed offset. */
  lag: number;
}

/**
 * How far each group is behind on each partition of its topics, read from the broker: the partition's end offset
 * minus the group's committed offset. Counted from the first retained message when the group has committed nothing
 * yet (groups start from the beginning) or when retention deleted past its offset. Read this way, not from the
 * batches a consumer fetches, it also shows a group that stopped consuming: its lag grows while nothing moves.
 */
export async function consumerLag(admin: Admin, groups: { groupId: string; topics: string[] }[]): Promise<PartitionLag[]> {
  const topics = [...new Set(groups.flatMap((g) => g.topics))];
  const ends = new Map(
    await Promise.all(
      topics.map(async (topic) => [topic, (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, high: Number(p.high), low: Number(p.low) }))] as const),
    ),
  );
  const lags: PartitionLag[] = [];
  for (const { groupId, topics: own } of groups) {
    const committed = await admin.fetchOffsets({ groupId, topics: own });
    for (const { topic, partitions } of committed) {
      const offsetOf = new Map(partitions.map((p) => [p.partition, Number(p.offset)]));
      for (const end of ends.get(topic) ?? []) {
        const at = offsetOf.get(end.partition) ?? -1;
        const from = Math.max(at, end.low);
        lags.push({ groupId, topic, partition: end.partition, lag: Math.max(0, end.high - from) });
      }
    }
  }
  return lags;
}
