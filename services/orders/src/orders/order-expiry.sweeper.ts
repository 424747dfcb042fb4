import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JsonLogger } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import type { OrdersConfig } from '../config';
import { OrdersService } from './orders.service';

const BATCH = 100;

/**
 * Cancels unpaid orders past `ORDER_PAYMENT_TTL_S` and releases their stock. Runs in every replica; rows are
 * claimed with SKIP LOCKED so replicas never cancel the same order twice. A crash loses nothing: the next sweep
 * finds the same orders.
 */
@Injectable()
export class OrderExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly orders: OrdersService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep().finally(() => this.schedule());
    }, this.config.ORDER_EXPIRY_SWEEP_MS);
  }

  async sweep(): Promise<void> {
    try {
      while (!this.stopped && (await this.orders.expireDue(BATCH)) === BATCH) {
        /* a full batch: more may be due */
      }
    } catch (error) {
      this.logger.pino.warn({ err: error }, 'expiry sweep failed; will retry');
    }
  }
}
