import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { OutboxService } from './outbox.service';

/** A database transaction whose outbox messages are handed to the relay as soon as it commits. */
@Injectable()
export class UnitOfWork {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
  ) {}

  async run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let manager: EntityManager | undefined;
    const result = await this.dataSource.transaction((m) => work((manager = m)));
    // A relay pass is a transaction of its own: not worth running for a transaction that wrote no message.
    if (manager && this.outbox.wroteIn(manager)) this.outbox.nudge();
    return result;
  }
}
