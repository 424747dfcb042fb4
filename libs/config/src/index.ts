export * from './config.schema';
export * from './validate-config';
export * from './kafka-security';
