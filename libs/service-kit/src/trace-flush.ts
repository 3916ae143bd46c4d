import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

import { shutdownTracing } from '@rotor/tracing';

/** Sends the spans still buffered when the service stops (a SIGTERM would otherwise lose the last seconds). */
@Injectable()
export class TraceFlush implements OnApplicationShutdown {
  onApplicationShutdown(): Promise<void> {
    return shutdownTracing();
  }
}
