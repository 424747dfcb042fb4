export * from './config';
export * from './client';
export * from './idempotency';
export * from './stripe.module';
export * from './errors';
export * from './event-types';
export * from './expandable';
export * from './metrics';
