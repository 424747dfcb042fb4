import { Body, Controller, Delete, Get, Headers, Param, Post } from '@nestjs/common';
import { parseInput } from '../common/http-errors';
import { storeIdSchema } from '../stores/stores.dto';
import { readerIdSchema, registerReaderBody } from './readers.dto';
import { ReadersService } from './readers.service';

/** A store's readers. Every route names the store: a reader of another store is a 404. */
@Controller('stores/:storeId/readers')
export class ReadersController {
  constructor(private readonly readers: ReadersService) {}

  @Post()
  async register(
    @Param('storeId') storeId: string,
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ) {
    const reader = await this.readers.register(
      parseInput(storeIdSchema, storeId),
      parseInput(registerReaderBody, raw),
      key || undefined,
    );
    return this.readers.getView(reader.storeId, reader.id);
  }

  @Get()
  list(@Param('storeId') storeId: string) {
    return this.readers.list(parseInput(storeIdSchema, storeId));
  }

  @Get(':readerId')
  get(@Param('storeId') storeId: string, @Param('readerId') readerId: string) {
    return this.readers.getView(parseInput(storeIdSchema, storeId), parseInput(readerIdSchema, readerId));
  }

  @Delete(':readerId')
  deregister(@Param('storeId') storeId: string, @Param('readerId') readerId: string) {
    return this.readers.deregister(parseInput(storeIdSchema, storeId), parseInput(readerIdSchema, readerId));
  }
}
