import { Controller, Get, Query } from '@nestjs/common';
import { CatalogService } from './catalog.service';

@Controller('catalog')
export class CatalogController {
  constructor(private readonly catalog: CatalogService) {}

  @Get('products')
  async products(@Query('currency') currency?: string) {
    return { products: await this.catalog.products(currency?.toLowerCase()) };
  }

  @Get('locations')
  async locations() {
    return { locations: await this.catalog.locations() };
  }
}
