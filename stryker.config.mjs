// Mutation testing of the pure logic with StrykerJS: `npm run mutation` (slow, so not part of
// `npm test`). Each mutant of the modules below is type-checked (the TypeScript checker drops
// mutants that do not compile) and then run against the node:test files that cover those
// modules, through the TAP runner (node:test prints TAP when its output is not a terminal).
// Scores and the surviving mutants are discussed in docs/mutation-testing.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  tap: {
    testFiles: [
      'test/runtime/names.test.ts',
      'test/runtime/json.test.ts',
      'test/aggregator/decoding.test.ts',
      'test/aggregator/scale_units.test.ts',
      'test/aggregator/status_model.test.ts',
      'test/aggregator/hit_rate.test.ts',
      'test/aggregator/fpm_boundaries.test.ts',
      'test/runtime/json_edges.test.ts',
      'test/export/openmetrics.test.ts',
      'test/reliability/bad_input.test.ts',
      'test/export/serializer.test.ts',
      'test/config/config.test.ts',
      'test/config/values.test.ts',
      'test/config/schema_units.test.ts',
      'test/config/docs.test.ts',
      'test/export/serializer_units.test.ts',
    ],
    nodeArgs: ['--conditions=development', '--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  mutate: [
    'src/runtime/names.ts',
    'src/runtime/json.ts',
    'src/runtime/forwardPassMetrics.ts',
    'src/aggregator/statsReply.ts',
    'src/aggregator/statistics.ts',
    'src/aggregator/HitRateTracker.ts',
    'src/aggregator/hitRateEvent.ts',
    'src/aggregator/statusTable.ts',
    'src/aggregator/StatusHistory.ts',
    'src/export/PrometheusSerializer.ts',
    'src/config/values.ts',
    'src/config/schema.ts',
  ],
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
