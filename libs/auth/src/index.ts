export * from './claims';
export * from './jwt';
