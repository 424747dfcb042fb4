import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { CurrentUser, Roles } from '../auth/auth.decorators';
import { parseInput } from '../common/validation';
import { listQuery, refundBody } from './dto/refund.dto';
import { OrdersService } from './orders.service';

@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Roles('customer', 'cashier', 'manager', 'admin')
  @Get()
  list(@CurrentUser() user: Claims, @Query() query: unknown) {
    return this.orders.list(user, parseInput(listQuery, query));
  }

  @Roles('customer', 'cashier', 'manager', 'admin')
  @Get(':id')
  get(@CurrentUser() user: Claims, @Param('id') id: string) {
    return this.orders.get(user, id);
  }

  @Roles('customer', 'cashier', 'manager', 'admin')
  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@CurrentUser() user: Claims, @Param('id') id: string) {
    return this.orders.act(user, id, 'cancel');
  }

  @Roles('cashier', 'manager', 'admin')
  @Post(':id/ready-for-pickup')
  @HttpCode(200)
  readyForPickup(@CurrentUser() user: Claims, @Param('id') id: string) {
    return this.orders.act(user, id, 'ready-for-pickup');
  }

  @Roles('cashier', 'manager', 'admin')
  @Post(':id/picked-up')
  @HttpCode(200)
  pickedUp(@CurrentUser() user: Claims, @Param('id') id: string) {
    return this.orders.act(user, id, 'picked-up');
  }

  @Roles('cashier', 'manager', 'admin')
  @Post(':id/fulfilled')
  @HttpCode(200)
  fulfilled(@CurrentUser() user: Claims, @Param('id') id: string) {
    return this.orders.act(user, id, 'fulfilled');
  }

  @Roles('manager', 'admin')
  @Post(':id/refunds')
  refund(@CurrentUser() user: Claims, @Param('id') id: string, @Body() raw: unknown, @Headers('idempotency-key') key: string | undefined) {
    return this.orders.refund(user, id, parseInput(refundBody, raw), key);
  }
}
