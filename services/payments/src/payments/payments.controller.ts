import { Body, Controller, Get, Headers, Inject, Param, Post, Res } from '@nestjs/common';
import { STRIPE_PUBLISHABLE_KEY } from '@omnipay/stripe';
import type { Response } from 'express';
import { z } from 'zod';
import { IdempotencyService, type HttpResult } from '../common/idempotency.service';
import { parseInput } from '../common/http-errors';
import { cancelBody, captureBody, createPaymentBody, refundBody } from './dto/payments.dto';
import { PaymentsService } from './payments.service';

const idParam = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'not a valid id');

/** Internal HTTP API of payments (gateway and terminal call it; JSON in and out). */
@Controller()
export class PaymentsController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly idempotency: IdempotencyService,
    @Inject(STRIPE_PUBLISHABLE_KEY) private readonly publishableKey: string,
  ) {}

  @Get('config/publishable-key')
  config() {
    return { publishableKey: this.publishableKey };
  }

  /** The only answer that carries the client secret; a repeat (same order + attempt, or same key) gets it again. */
  @Post('payments')
  async create(
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const body = parseInput(createPaymentBody, raw);
    return this.send(
      res,
      await this.idempotency.run(
        'payments.create',
        key,
        body,
        async () => ({ status: 201, body: await this.payments.create(body) }),
        {
          reexecute: true,
        },
      ),
    );
  }

  @Get('payments/by-order/:orderId')
  byOrder(@Param('orderId') orderId: string) {
    return this.payments.getByOrder(parseInput(idParam, orderId));
  }

  @Get('payments/:paymentId')
  get(@Param('paymentId') paymentId: string) {
    return this.payments.get(parseInput(idParam, paymentId));
  }

  @Post('payments/:paymentId/capture')
  async capture(
    @Param('paymentId') id: string,
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const paymentId = parseInput(idParam, id);
    const body = parseInput(captureBody, raw);
    return this.send(
      res,
      await this.idempotency.run('payments.capture', key, { paymentId, body }, async () => ({
        status: 200,
        body: await this.payments.capture(paymentId, body.amountToCapture),
      })),
    );
  }

  @Post('payments/:paymentId/cancel')
  async cancel(
    @Param('paymentId') id: string,
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const paymentId = parseInput(idParam, id);
    const body = parseInput(cancelBody, raw);
    return this.send(
      res,
      await this.idempotency.run('payments.cancel', key, { paymentId, body }, async () => ({
        status: 200,
        body: await this.payments.cancel(paymentId, body.reason),
      })),
    );
  }

  @Post('payments/:paymentId/refunds')
  async refund(
    @Param('paymentId') id: string,
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const paymentId = parseInput(idParam, id);
    const body = parseInput(refundBody, raw);
    return this.send(
      res,
      await this.idempotency.run('payments.refund', key, { paymentId, body }, async () => ({
        status: 201,
        body: await this.payments.refund(paymentId, body),
      })),
    );
  }

  private send(res: Response, result: HttpResult): unknown {
    res.status(result.status);
    return result.body;
  }
}
