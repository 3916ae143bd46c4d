// Imported first by main.ts: the trace SDK must patch http, ioredis, pg and gRPC before they load.
import { startTracing } from '@rotor/tracing';

startTracing({ service: 'injector' });
