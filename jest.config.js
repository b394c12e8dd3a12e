// ESM throughout (@kubernetes/client-node 1.x is ESM-only); @swc/jest strips types fast,
// `npm run lint` (tsc --noEmit) is what type-checks the tests.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
  // Jest's ESM loader keeps every test file's module graph alive in its worker; recycle a worker
  // once it grows past this, or a long run (schema tests load large model packages) can exhaust the heap.
  workerIdleMemoryLimit: '768MB',
};
