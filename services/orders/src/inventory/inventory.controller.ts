import { Body, Controller, Get, Param, Put, Query } from '@nestjs/common';
import { z } from 'zod';
import { conflict } from '../shared/http-errors';
import { parseBody } from '../shared/zod-body';
import { InventoryService } from './inventory.service';

const adjustSchema = z.object({ onHand: z.number().int().min(0).max(1_000_000) }).strict();

@Controller('inventory')
export class InventoryController {
  constructor(private readonly inventory: InventoryService) {}

  @Get('stock')
  async stock(@Query('sku') sku?: string, @Query('locationId') locationId?: string) {
    return { stock: await this.inventory.stock({ sku, locationId }) };
  }

  /** Stock take: sets the physical count. Refused (409) below what open orders have reserved. */
  @Put('stock/:locationId/:sku')
  async adjust(@Param('locationId') locationId: string, @Param('sku') sku: string, @Body() body: unknown) {
    const { onHand } = parseBody(adjustSchema, body);
    const row = await this.inventory.adjust(locationId, sku, onHand);
    if (!row)
      throw conflict(
        'below_reserved',
        `cannot set ${sku} at ${locationId} below the units reserved by open orders`,
      );
    return {
      sku,
      locationId,
      onHand: row.on_hand,
      reserved: row.reserved,
      available: row.on_hand - row.reserved,
    };
  }
}
