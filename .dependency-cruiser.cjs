/**
 * The layering of the code, checked by test/architecture.test.ts (dependency-cruiser).
 * Data flows one way; a folder never imports one above it:
 *
 *   src/cli
 *   src/aggregator, src/mock, src/frontend,     (siblings: none imports another)
 *   src/loadgen, instrumentation
 *   src/export
 *   src/config
 *   src/runtime
 *   src/*.ts                                    (shared leaves: log, errors, time)
 */
const LAYERS = [
  { name: 'cli', path: '^src/cli/' },
  { name: 'aggregator', path: '^src/aggregator/' },
  { name: 'mock', path: '^src/mock/' },
  { name: 'frontend', path: '^src/frontend/' },
  { name: 'loadgen', path: '^src/loadgen/' },
  { name: 'instrumentation', path: '^instrumentation/' },
  { name: 'export', path: '^src/export/' },
  { name: 'config', path: '^src/config/' },
  { name: 'runtime', path: '^src/runtime/' },
  { name: 'leaves', path: '^src/[^/]+\\.ts$' },
];
/** What each layer must not import: every layer above it, and its siblings. */
const ABOVE = {
  aggregator: ['cli', 'mock', 'frontend', 'loadgen', 'instrumentation'],
  mock: ['cli', 'aggregator', 'frontend', 'loadgen', 'instrumentation'],
  frontend: ['cli', 'aggregator', 'mock', 'loadgen', 'instrumentation'],
  loadgen: ['cli', 'aggregator', 'mock', 'frontend', 'instrumentation'],
  instrumentation: ['cli', 'aggregator', 'mock', 'frontend', 'loadgen'],
  export: ['cli', 'aggregator', 'mock', 'frontend', 'loadgen', 'instrumentation'],
  config: ['cli', 'aggregator', 'mock', 'frontend', 'loadgen', 'instrumentation', 'export'],
  runtime: ['cli', 'aggregator', 'mock', 'frontend', 'loadgen', 'instrumentation', 'export', 'config'],
  leaves: ['cli', 'aggregator', 'mock', 'frontend', 'loadgen', 'instrumentation', 'export', 'config', 'runtime'],
};
const pathOf = (name) => LAYERS.find((l) => l.name === name).path;

module.exports = {
  forbidden: [
    ...Object.entries(ABOVE).map(([layer, above]) => ({
      name: `${layer}-imports-upward`,
      comment: `${layer} must not import ${above.join(', ')}: data flows one way (docs/architecture.md)`,
      severity: 'error',
      from: { path: pathOf(layer) },
      to: { path: above.map(pathOf) },
    })),
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a circle',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'product-imports-tests',
      comment: 'the product never imports tests, benchmarks or scripts',
      severity: 'error',
      from: { path: '^(src|instrumentation)/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'outside-the-repository',
      comment: 'nothing reads or imports outside the repository (a clone stands alone)',
      severity: 'error',
      from: {},
      to: { path: '^\\.\\./' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves to a file of the repository or an installed package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'runtime-without-telemetry-sdk',
      comment: 'the runtime knows nothing of the OTel SDK, exporters or config files',
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: ['@opentelemetry/', 'node_modules/yaml/', 'prom-client'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    preserveSymlinks: true,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
