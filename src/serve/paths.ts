// The protocol facts the model server (routes.ts) and the gateway (gateway/) both speak, stated once: the
// model paths of TF Serving REST / KServe V1 and of KServe V2 (Open Inference Protocol), the fixed paths, the
// version GET /v2 reports, and the Prometheus text format's content type.

/** `/v1/models/NAME[/versions/V][/metadata | :predict]`: [, name, version?, action?]. */
export const V1_MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?(\/metadata|:[A-Za-z]+)?$/;

/** `/v2/models/NAME[/versions/V][/ready | /infer]`: [, name, version?, action?]. */
export const V2_MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/;

/** The paths outside a model's. */
export const FIXED_PATHS = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  /** V2 server metadata: {name, version, extensions}. */
  server: '/v2',
  metrics: '/metrics',
} as const;

/** The version GET /v2 reports, for the model server and the gateway alike. */
export const SERVER_VERSION = '0.1.0';

/** Prometheus text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
