/**
 * What OpenTelemetry's GenAI semantic conventions fix for their metrics (docs/gen-ai/gen-ai-metrics.md
 * of the conventions, status Development), shared by the model server's instruments (the
 * frontend) and the client's (loadgen): the advised bucket boundaries and this project's
 * `gen_ai.provider.name`.
 */

/** `gen_ai.server.request.duration` and `gen_ai.client.operation.duration`, seconds. */
export const GEN_AI_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** `gen_ai.server.time_to_first_token`, seconds. */
export const GEN_AI_TTFT_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/** `gen_ai.server.time_per_output_token`, seconds. */
export const GEN_AI_TPOT_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
/** `gen_ai.client.token.usage`, tokens. */
export const GEN_AI_TOKEN_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** `gen_ai.provider.name`: no well-known value fits a Dynamo deployment, and the conventions allow a custom one. */
export const GEN_AI_PROVIDER = 'dynamo';
