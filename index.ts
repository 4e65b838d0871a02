/**
 * The package's root entry point, `import { … } from 'dynamo-otel-metrics'`: everything of the
 * three entry points `dynamo-otel-metrics/runtime`, `/instrumentation` and `/export`
 * (docs/runtime-api.md), which can also be imported alone.
 */
export * from './src/runtime/index.ts';
export * from './instrumentation/index.ts';
export * from './src/export/index.ts';
