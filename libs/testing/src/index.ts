export * from './engines';
export * from './service-process';
export * from './kafka';
export * from './database';
export * from './stack';
