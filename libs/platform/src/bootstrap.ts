import 'reflect-metadata';
import type { Server } from 'node:http';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigValidationError, kafkaSecurity, validateConfig, type BaseConfig, type EdgeConfig } from '@omnipay/config';
import { KafkaConsumerServer, RethrowErrorsFilter } from '@omnipay/messaging';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { ensureSchema } from '@omnipay/persistence';
import { RetryableErrorsFilter } from './retryable-errors.filter';
import type { z } from 'zod';
import { exitOnSecondSignal, listenersOf } from './exit-after-signal';
import { serviceTokens } from './service-token';

/** Any schema whose output has at least the edge settings (HTTP, logs, Redis). */
type ServiceConfigSchema = z.ZodType<EdgeConfig, z.ZodTypeDef, unknown>;

export interface ServiceDefinition<S extends ServiceConfigSchema> {
  service: string;
  configSchema: S;
  /**
   * An edge service (the gateway) has no PostgreSQL schema and no Kafka consumers: its module uses
   * `PlatformModule.forEdge`. Every other service's schema extends `baseConfigSchema`.
   */
  edge?: boolean;
  /** It serves or calls the internal APIs: with NODE_ENV=production it needs SERVICE_TOKEN (decision 0024). */
  internalApi?: boolean;
  /** Builds the root module from the validated config and the process logger. */
  module: (config: z.infer<S>, logger: JsonLogger) => DynamicModule;
  /** The body of every error answer (the gateway's public shape); unset: Nest's, and each service's `ApiError`. */
  errorBody?: (status: number, body: unknown) => object;
  /** Service-specific HTTP set-up before listening (body limits, raw bodies, CORS). */
  configureApp?: (app: NestExpressApplication, config: z.infer<S>) => void;
}

/**
 * Starts a service: validate configuration (exit 1 naming every bad setting), create its schema, start Nest
 * (migrations run during init), connect the Kafka consumers, then listen (an edge service skips the schema and
 * the consumers). SIGTERM drains and exits cleanly.
 */
export async function bootstrapService<S extends ServiceConfigSchema>(
  def: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<INestApplication> {
  let config: z.infer<S>;
  try {
    config = validateConfig(def.configSchema, env);
    if (def.internalApi) serviceTokens(config, def.service);
    if (!def.edge) kafkaSecurity(config as unknown as BaseConfig);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${def.service}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new JsonLogger(createLogger(def.service, config.LOG_LEVEL));
  try {
    if (!def.edge) {
      const { DATABASE_URL, DATABASE_SCHEMA } = config as unknown as BaseConfig;
      await ensureSchema(DATABASE_URL, DATABASE_SCHEMA);
    }
    const app = await NestFactory.create<NestExpressApplication>(def.module(config, logger), { logger, bufferLogs: true });
    // JSON answers about live state: an ETag costs a hash of every body and no client revalidates them;
    // X-Powered-By only tells a scanner what runs here.
    app.set('etag', false);
    app.disable('x-powered-by');
    def.configureApp?.(app, config);
    const before = listenersOf();
    app.enableShutdownHooks();
    exitOnSecondSignal(undefined, before);
    app.useGlobalFilters(new RetryableErrorsFilter(app.get(HttpAdapterHost).httpAdapter, logger, def.errorBody));
    if (!def.edge) {
      app
        .connectMicroservice({ strategy: app.get(KafkaConsumerServer) }, { deferInitialization: true })
        .useGlobalFilters(new RethrowErrorsFilter());
    }
    // init before the consumers listen: migrations run in onModuleInit, and the tables must exist first.
    await app.init();
    if (!def.edge) await app.startAllMicroservices();
    // Idle connections outlive the load balancer's (HTTP_KEEP_ALIVE_TIMEOUT_MS), so the client closes first.
    const server: Server = app.getHttpServer();
    server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
    // Node requires the headers timeout to outlast the keep-alive timeout, or a slow next request is cut off.
    server.headersTimeout = Math.max(server.headersTimeout, config.HTTP_KEEP_ALIVE_TIMEOUT_MS + 1000);
    // Node's default accept backlog (511) overflows under bursts of new connections (a webhook storm, a load
    // balancer reconnecting); the kernel then drops SYNs and clients retry after a whole second. The kernel caps
    // this at net.core.somaxconn.
    // (Nest hands extra arguments to http.Server#listen(port, host, backlog); its typings only know port, host.)
    const listen = app.listen.bind(app) as unknown as (port: number, host: string, backlog: number) => Promise<unknown>;
    await listen(config.PORT, config.HOST, 4096);
    logger.pino.info({ port: config.PORT, host: config.HOST }, `${def.service} listening`);
    return app;
  } catch (error) {
    // A setting found wrong while the modules were built (one that depends on others): told as the schema's are.
    if (error instanceof ConfigValidationError) process.stderr.write(`${def.service}: ${error.message}\n`);
    logger.pino.fatal({ err: error }, `${def.service} failed to start`);
    process.exit(1);
  }
}
