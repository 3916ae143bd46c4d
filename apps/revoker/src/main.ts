import './tracing';
import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadRevokerConfig } from './config';
import { RevokerModule } from './revoker.module';

runService({
  description: 'Revokes leases when their TTL runs out, on request, by selector, and in emergency rotations.',
  operatorRoutes: ['/v1/emergency-rotations', '/v1/lease-revocations', '/v1/leases'],
  loadConfig: loadRevokerConfig,
  module: (config, telemetry) => RevokerModule.forRoot(config, telemetry),
});
