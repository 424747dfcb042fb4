export * from './request-context';
export * from './random-hex';
export * from './redact';
export * from './logger';
export * from './metrics';
export * from './correlation.middleware';
