import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { AuditDatabase, ChainState, PgAuditViews, ViewWriter } from '@rotor/audit-store';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';

import { AUDIT_VIEWS } from './tokens';

/** Brings the schema up to date before anything reads it, reports the database in /readyz, closes it last. */
@Injectable()
class AuditDatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly db: AuditDatabase,
    private readonly readiness: ReadinessRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const applied = await this.db.migrate();
    if (applied.length) this.logger.info({ schema: this.db.schema, migrations: applied }, 'audit database migrated');
    this.readiness.register({ name: 'postgres', check: () => this.db.ping() });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

/** The auditor's PostgreSQL (its own database and role): chain state, the views' writer and reader. */
@Module({})
export class AuditDatabaseModule {
  static forRoot(settings: AuditorConfig['database']): DynamicModule {
    return {
      module: AuditDatabaseModule,
      global: true,
      providers: [
        { provide: AuditDatabase, useFactory: () => AuditDatabase.open(settings) },
        AuditDatabaseLifecycle,
        { provide: ChainState, useFactory: (db: AuditDatabase) => new ChainState(db), inject: [AuditDatabase] },
        { provide: ViewWriter, useFactory: (db: AuditDatabase) => new ViewWriter(db), inject: [AuditDatabase] },
        { provide: PgAuditViews, useFactory: (db: AuditDatabase) => new PgAuditViews(db), inject: [AuditDatabase] },
        { provide: AUDIT_VIEWS, useExisting: PgAuditViews },
      ],
      exports: [AuditDatabase, ChainState, ViewWriter, PgAuditViews, AUDIT_VIEWS],
    };
  }
}
