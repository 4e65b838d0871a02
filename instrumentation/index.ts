/**
 * Automatic endpoint instrumentation, custom metrics and the system status server: what
 * docs/runtime-api.md documents (api/instrumentation.api.md lists it whole).
 */
export { connectInstrumented, processInstrumentation } from './ProcessInstrumentation.ts';
export type { InstrumentationOptions } from './ProcessInstrumentation.ts';
