import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import type { Response } from 'express';
import { CurrentUser, Roles } from '../auth/auth.decorators';
import { parseInput, rejectClientPrices } from '../common/validation';
import { captureBody, idParam, payOnReaderBody, posOrderBody, registerReaderBody, storeBody } from './dto/pos.dto';
import { PosService } from './pos.service';
import { checkIdempotencyKey } from '../common/idempotency.service';

/** Store staff at the counter. Customers and finance never reach these routes (403 by role). */
@Roles('cashier', 'manager')
@Controller('v1/pos')
export class PosController {
  constructor(private readonly pos: PosService) {}

  @Post('orders')
  placeOrder(@CurrentUser() user: Claims, @Body() raw: unknown, @Headers('idempotency-key') key?: string) {
    rejectClientPrices(raw);
    if (key !== undefined) checkIdempotencyKey(key);
    return this.pos.placeOrder(user, parseInput(posOrderBody, raw), key);
  }

  @Post('orders/:orderId/pay')
  pay(@CurrentUser() user: Claims, @Param('orderId') orderId: string, @Body() raw: unknown) {
    const body = parseInput(payOnReaderBody, raw);
    return this.pos.payOnReader(user, parseInput(idParam, orderId, 'orderId'), body.readerId);
  }

  @Get('orders/:orderId/reader-payments')
  readerPayments(@CurrentUser() user: Claims, @Param('orderId') orderId: string) {
    return this.pos.readerPayments(user, parseInput(idParam, orderId, 'orderId'));
  }

  @Get('readers')
  readers(@CurrentUser() user: Claims) {
    return this.pos.readers(user);
  }

  @Roles('manager')
  @Post('readers')
  registerReader(@CurrentUser() user: Claims, @Body() raw: unknown, @Headers('idempotency-key') key?: string) {
    if (key !== undefined) checkIdempotencyKey(key);
    return this.pos.registerReader(user, parseInput(registerReaderBody, raw), key);
  }

  @Get('readers/:readerId/payments/:actionId')
  action(@CurrentUser() user: Claims, @Param('readerId') readerId: string, @Param('actionId') actionId: string) {
    return this.pos.readerAction(user, parseInput(idParam, readerId, 'readerId'), parseInput(idParam, actionId, 'actionId'));
  }

  /** 200 when captured; 202 while payments has not seen the authorisation yet (terminal keeps trying), as terminal says. */
  @Post('readers/:readerId/payments/:actionId/capture')
  @HttpCode(200)
  async capture(
    @CurrentUser() user: Claims,
    @Param('readerId') readerId: string,
    @Param('actionId') actionId: string,
    @Body() raw: unknown,
    @Res({ passthrough: true }) res: Response,
  ) {
    parseInput(captureBody, raw); // nothing to name: an amount is refused, not ignored
    const action = await this.pos.capture(user, parseInput(idParam, readerId, 'readerId'), parseInput(idParam, actionId, 'actionId'));
    if ((action as { capture?: { status?: string } }).capture?.status === 'pending') res.status(202);
    return action;
  }

  @Post('readers/:readerId/cancel-action')
  @HttpCode(200)
  cancelAction(@CurrentUser() user: Claims, @Param('readerId') readerId: string) {
    return this.pos.cancelAction(user, parseInput(idParam, readerId, 'readerId'));
  }

  @Post('connection-tokens')
  connectionToken(@CurrentUser() user: Claims) {
    return this.pos.connectionToken(user);
  }
}

/** Opening a store (a Terminal location) is an operator's job. */
@Roles('admin')
@Controller('v1/admin')
export class StoresAdminController {
  constructor(private readonly pos: PosService) {}

  @Post('stores')
  createStore(@Body() raw: unknown) {
    return this.pos.createStore(parseInput(storeBody, raw));
  }
}
