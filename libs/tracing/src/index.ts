export { startTracing, shutdownTracing, setHttpRouteResolver, type TracingOptions } from './tracing';
export { NoRootClientSpans, samplerFromEnv } from './sampler';
export { ScrubbingSpanProcessor, scrubAttributes } from './scrubbing-span-processor';
export { redisStatement, sqlVerb, withoutQuery } from './safe-attributes';
