import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { BaseConfig } from '@omnipay/config';
import { JsonLogger } from '@omnipay/observability';
import { runMigrations } from '@omnipay/persistence';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from './tokens';

/** Applies pending migrations during module init: before the relay, the consumers or HTTP start. */
@Injectable()
export class MigrationRunner implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: BaseConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await runMigrations(this.dataSource, this.config.DATABASE_SCHEMA, this.logger.pino);
  }
}
