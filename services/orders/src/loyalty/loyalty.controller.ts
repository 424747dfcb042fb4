import { Controller, Get, Param } from '@nestjs/common';
import { LoyaltyService } from './loyalty.service';

@Controller('loyalty')
export class LoyaltyController {
  constructor(private readonly loyalty: LoyaltyService) {}

  /** Balance (the sum of the ledger) and every entry. */
  @Get('customers/:customerId')
  account(@Param('customerId') customerId: string) {
    return this.loyalty.account(customerId);
  }
}
