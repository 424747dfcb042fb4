// Integration tests: test/**/*.spec.ts against real Kafka, PostgreSQL, Redis and stripe-mock (started if absent).
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'stripe-emulator:integration',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  globalSetup: '<rootDir>/../../libs/testing/src/global-setup.js',
  testTimeout: 120000,
  // A service child process that outlives a failed suite must not hang the run (ServiceProcess kills them on exit).
  forceExit: true,
};
