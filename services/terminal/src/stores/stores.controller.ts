import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { parseInput } from '../common/http-errors';
import { createStoreBody, storeIdSchema } from './stores.dto';
import { StoresService } from './stores.service';

/** Internal HTTP API (the gateway authorises, then calls these); documented in services/terminal/README.md. */
@Controller('stores')
export class StoresController {
  constructor(private readonly stores: StoresService) {}

  @Post()
  async create(@Body() raw: unknown, @Res({ passthrough: true }) res: Response) {
    const { store, created } = await this.stores.create(parseInput(createStoreBody, raw));
    res.status(created ? 201 : 200);
    return store;
  }

  @Get()
  async list() {
    return { stores: await this.stores.list() };
  }

  @Get(':storeId')
  get(@Param('storeId') storeId: string) {
    return this.stores.get(parseInput(storeIdSchema, storeId));
  }

  @Post(':storeId/connection-tokens')
  @HttpCode(201)
  connectionToken(@Param('storeId') storeId: string) {
    return this.stores.connectionToken(parseInput(storeIdSchema, storeId));
  }
}
