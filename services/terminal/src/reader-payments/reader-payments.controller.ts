import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { parseInput } from '../common/http-errors';
import { readerIdSchema } from '../readers/readers.dto';
import { storeIdSchema } from '../stores/stores.dto';
import { actionView } from './reader-action.model';
import { ReaderActionsWorker } from './reader-actions.worker';
import { actionIdSchema, captureBody, listActionsQuery, startPaymentBody } from './reader-payments.dto';
import { ReaderPaymentsService } from './reader-payments.service';

/** Server-driven payments on a store's reader. */
@Controller('stores/:storeId')
export class ReaderPaymentsController {
  constructor(
    private readonly payments: ReaderPaymentsService,
    private readonly worker: ReaderActionsWorker,
  ) {}

  @Post('readers/:readerId/payments')
  @HttpCode(201)
  start(@Param('storeId') storeId: string, @Param('readerId') readerId: string, @Body() raw: unknown) {
    return this.payments.start(
      parseInput(storeIdSchema, storeId),
      parseInput(readerIdSchema, readerId),
      parseInput(startPaymentBody, raw),
    );
  }

  @Get('readers/:readerId/payments/:actionId')
  async get(
    @Param('storeId') storeId: string,
    @Param('readerId') readerId: string,
    @Param('actionId') actionId: string,
  ) {
    return actionView(
      await this.payments.get(
        parseInput(storeIdSchema, storeId),
        parseInput(readerIdSchema, readerId),
        parseInput(actionIdSchema, actionId),
      ),
    );
  }

  /** 200 when captured, 202 while payments has not seen the authorisation yet (the worker keeps trying). */
  @Post('readers/:readerId/payments/:actionId/capture')
  async capture(
    @Param('storeId') storeId: string,
    @Param('readerId') readerId: string,
    @Param('actionId') actionId: string,
    @Body() raw: unknown,
    @Res({ passthrough: true }) res: Response,
  ) {
    const body = parseInput(captureBody, raw);
    const a = await this.payments.requestCapture(
      parseInput(storeIdSchema, storeId),
      parseInput(readerIdSchema, readerId),
      parseInput(actionIdSchema, actionId),
      body.amountToCapture,
      this.worker.captureOne,
    );
    res.status(a.captureStatus === 'pending' ? 202 : 200);
    return actionView(a);
  }

  @Post('readers/:readerId/cancel-action')
  @HttpCode(200)
  cancel(@Param('storeId') storeId: string, @Param('readerId') readerId: string) {
    return this.payments.cancel(parseInput(storeIdSchema, storeId), parseInput(readerIdSchema, readerId));
  }

  @Get('reader-payments')
  list(@Param('storeId') storeId: string, @Query() query: unknown) {
    const q = parseInput(listActionsQuery, query);
    return this.payments.list(parseInput(storeIdSchema, storeId), q.orderId, q.limit);
  }
}
