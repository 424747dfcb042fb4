import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { orderStatus } from '@omnipay/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { badRequest } from '../shared/http-errors';
import { parseBody } from '../shared/zod-body';
import { parsePlaceOrder, staffActionSchema } from './dto/place-order.dto';
import type { OrderStatus } from './order-status';
import { OrdersService } from './orders.service';

const listQuery = z
  .object({
    status: z
      .string()
      .transform((s) => s.split(',').filter(Boolean))
      .pipe(z.array(orderStatus).min(1))
      .optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    before: z.string().min(1).max(200).optional(),
  })
  .strict();

/**
 * Internal HTTP API for the gateway (not exposed to clients: the gateway authenticates and authorises, then calls
 * these with the ids it has checked). Routes are documented in services/orders/README.md.
 */
@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post('orders')
  async place(
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
    }
    const { order, created } = await this.orders.place(parsePlaceOrder(body), idempotencyKey);
    res.status(created ? 201 : 200);
    return order;
  }

  @Get('orders/:id')
  get(@Param('id') id: string) {
    return this.orders.getOrThrow(id);
  }

  @Get('customers/:customerId/orders')
  listForCustomer(@Param('customerId') customerId: string, @Query() query: unknown) {
    const q = parseBody(listQuery, query);
    return this.orders.list({
      customerId,
      statuses: q.status,
      limit: q.limit,
      before: q.before,
    });
  }

  @Get('stores/:storeId/orders')
  listForStore(@Param('storeId') storeId: string, @Query() query: unknown) {
    const q = parseBody(listQuery, query);
    return this.orders.list({
      storeId,
      statuses: q.status,
      limit: q.limit,
      before: q.before,
    });
  }

  @Post('orders/:id/ready-for-pickup')
  @HttpCode(200)
  readyForPickup(@Param('id') id: string, @Body() body: unknown) {
    return this.staff(id, 'ready_for_pickup', body);
  }

  @Post('orders/:id/picked-up')
  @HttpCode(200)
  pickedUp(@Param('id') id: string, @Body() body: unknown) {
    return this.staff(id, 'completed', body, 'picked_up');
  }

  @Post('orders/:id/fulfilled')
  @HttpCode(200)
  fulfilled(@Param('id') id: string, @Body() body: unknown) {
    return this.staff(id, 'fulfilled', body);
  }

  @Post('orders/:id/completed')
  @HttpCode(200)
  completed(@Param('id') id: string, @Body() body: unknown) {
    return this.staff(id, 'completed', body);
  }

  @Post('orders/:id/cancel')
  @HttpCode(200)
  cancel(@Param('id') id: string, @Body() body: unknown) {
    return this.staff(id, 'cancelled', body, 'cancelled_by_staff');
  }

  private staff(id: string, to: OrderStatus, body: unknown, defaultReason?: string) {
    const action = parseBody(staffActionSchema, body);
    return this.orders.staffTransition(
      id,
      to,
      action.actor ? `staff:${action.actor}` : 'staff',
      action.reason ?? defaultReason ?? null,
    );
  }
}
