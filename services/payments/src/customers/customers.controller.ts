import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { IdempotencyService } from '../common/idempotency.service';
import { parseInput } from '../common/http-errors';
import { CustomersService } from './customers.service';

const customerIdParam = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/);
const ephemeralKeyBody = z
  .object({ apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/, 'a Stripe API version') })
  .strict();
const setupIntentBody = z.object({ setupRequestId: customerIdParam.optional() }).strict();

/** App channel (called by the gateway for the signed-in customer; the gateway checks who may act for whom). */
@Controller('customers/:customerId')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Post('stripe-customer')
  @HttpCode(200)
  getOrCreate(@Param('customerId') customerId: string) {
    return this.customers.customer(parseInput(customerIdParam, customerId));
  }

  @Post('ephemeral-keys')
  @HttpCode(201)
  ephemeralKey(@Param('customerId') customerId: string, @Body() body: unknown) {
    const b = parseInput(ephemeralKeyBody, body);
    return this.customers.ephemeralKey(parseInput(customerIdParam, customerId), b.apiVersion);
  }

  @Post('customer-sessions')
  @HttpCode(201)
  customerSession(@Param('customerId') customerId: string) {
    return this.customers.customerSession(parseInput(customerIdParam, customerId));
  }

  @Post('setup-intents')
  @HttpCode(201)
  setupIntent(
    @Param('customerId') customerId: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key?: string,
  ) {
    const b = parseInput(setupIntentBody, body);
    const requestId = b.setupRequestId ?? IdempotencyService.validKey(key) ?? randomUUID();
    return this.customers.setupIntent(parseInput(customerIdParam, customerId), requestId);
  }

  @Get('payment-methods')
  savedCards(@Param('customerId') customerId: string) {
    return this.customers.savedCards(parseInput(customerIdParam, customerId));
  }
}
