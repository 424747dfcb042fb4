export * from './config.schema';
export * from './validate-config';
