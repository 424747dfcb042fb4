// Unit tests: *.spec.ts next to the code; no infrastructure.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'terminal:unit',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
