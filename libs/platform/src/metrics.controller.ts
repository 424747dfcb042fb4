import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { metricsRegistry } from '@omnipay/observability';
import { MetricsTokenGuard } from './admin-token.guard';

/** Prometheus text format of this process's registry; behind METRICS_TOKEN when it is set. */
@Controller('metrics')
@UseGuards(MetricsTokenGuard)
export class MetricsController {
  @Get()
  @Header('Content-Type', metricsRegistry.contentType)
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
