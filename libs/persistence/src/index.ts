export * from './data-source';
export * from './messaging-tables.migration';
export * from './together';
export * from './append-only';
export * from './retention';
export * from './retention.migration';
export * from './after-commit';
export * from './concurrent-index';
