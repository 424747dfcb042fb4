export * from './tokens';
export * from './platform.module';
export * from './bootstrap';
export * from './health.controller';
export * from './api-error';
export * from './retryable-errors.filter';
export * from './retention.sweeper';
export * from './poll-loop';
