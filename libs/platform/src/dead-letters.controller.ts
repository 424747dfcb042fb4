import { Body, Controller, Get, HttpCode, Injectable, Post, Query, UseGuards, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { KafkaConsumerServer, UnknownGroupError, discardDeadLetters, listDeadLetters, type RedriveResult } from '@omnipay/messaging';
import { JsonLogger, readForScrape, reportDeadLettersFrom } from '@omnipay/observability';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { AdminTokenGuard } from './admin-token.guard';
import { notFound, parseInput } from './api-error';

const listQuery = z
  .object({
    group: z.string().min(1).max(200).optional(),
    state: z.enum(['pending', 'redriven', 'all']).default('pending'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const redriveBody = z
  .object({
    group: z.string().min(1).max(200),
    /** Omitted: the group's oldest pending dead letters (100 per call). */
    messageIds: z.array(z.string().uuid()).min(1).max(500).optional(),
  })
  .strict();

const discardBody = z
  .object({
    group: z.string().min(1).max(200),
    /** Always by id: discarding is for letters an operator has looked at. */
    messageIds: z.array(z.string().uuid().toLowerCase()).min(1).max(500),
  })
  .strict();

/** Feeds `dead_letters_pending{group}` at scrape time: every group of this process, 0 when it has none. */
@Injectable()
export class DeadLetterMetrics implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly consumers: KafkaConsumerServer,
    private readonly dataSource: DataSource,
  ) {}

  onModuleInit(): void {
    reportDeadLettersFrom(async () => {
      const counts = new Map(this.consumers.groupIds().map((g) => [g, 0]));
      const rows = await readForScrape('dead_letters_pending', () =>
        this.dataSource.query<{ consumer_group: string; pending: number }[]>(
          `SELECT consumer_group, count(*)::int AS pending FROM dead_letters WHERE redriven_at IS NULL GROUP BY consumer_group`,
        ),
      );
      if (!rows) return []; // database away or slow: no numbers rather than zeros that read as "all clear"
      for (const r of rows) counts.set(r.consumer_group, r.pending);
      return [...counts].map(([group, pending]) => ({ group, pending }));
    });
  }

  onModuleDestroy(): void {
    reportDeadLettersFrom(undefined);
  }
}

/**
 * Operators' view of what this service's consumer groups dead-lettered, and the redrive once the cause is fixed
 * (decision 0021). Behind ADMIN_TOKEN; 404 without it.
 */
@Controller('admin/dead-letters')
@UseGuards(AdminTokenGuard)
export class DeadLettersController {
  constructor(
    private readonly consumers: KafkaConsumerServer,
    private readonly dataSource: DataSource,
    private readonly logger: JsonLogger,
  ) {}

  @Get()
  async list(@Query() query: unknown) {
    const q = parseInput(listQuery, query);
    const letters = await listDeadLetters(this.dataSource, {
      group: q.group,
      pending: q.state === 'all' ? undefined : q.state === 'pending',
      limit: q.limit,
    });
    return {
      groups: this.consumers.groupIds(),
      data: letters.map(({ payload, ...rest }) => ({ ...rest, message: readable(payload) })),
    };
  }

  @Post('redrive')
  @HttpCode(200)
  async redrive(@Body() body: unknown): Promise<RedriveResult> {
    const b = parseInput(redriveBody, body ?? {});
    try {
      return await this.consumers.redrive(b.group, b.messageIds);
    } catch (error) {
      if (error instanceof UnknownGroupError) throw notFound(`consumer group ${b.group}`);
      throw error;
    }
  }

  /** Settles letters no release will ever apply (see `discardDeadLetters`): `{discarded: [ids], skipped: [ids]}`. */
  @Post('discard')
  @HttpCode(200)
  async discard(@Body() body: unknown): Promise<{ discarded: string[]; skipped: string[] }> {
    const b = parseInput(discardBody, body ?? {});
    if (!this.consumers.groupIds().includes(b.group)) throw notFound(`consumer group ${b.group}`);
    const result = await discardDeadLetters(this.dataSource, b.group, b.messageIds);
    this.logger.pino.warn({ groupId: b.group, discarded: result.discarded }, 'dead letters discarded by an operator');
    return result;
  }
}

/** The message as JSON when it is JSON (envelopes are), else as the text it was. */
function readable(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return payload;
  }
}
