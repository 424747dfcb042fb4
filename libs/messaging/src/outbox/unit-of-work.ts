import { Injectable } from '@nestjs/common';
import { committed, rolledBack } from '@omnipay/persistence';
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
    let result: T;
    try {
      result = await this.dataSource.transaction((m) => work((manager = m)));
    } catch (error) {
      if (manager) rolledBack(manager);
      throw error;
    }
    if (manager) committed(manager);
    // A relay pass is a transaction of its own: not worth running for a transaction that wrote no message.
    if (manager && this.outbox.wroteIn(manager)) this.outbox.nudge();
    return result;
  }
}
