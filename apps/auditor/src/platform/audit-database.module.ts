import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { AuditDatabase, ChainState, PgAuditViews, ViewWriter } from '@rotor/audit-store';
import { DEPENDENCY_TIMEOUT_MS, LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';

import { AUDIT_READS, AUDIT_VIEWS } from './tokens';

/** REST reads may take this long on the server; a database that does not answer at all fails them within the dependency bound. */
const READ_STATEMENT_TIMEOUT_MS = 10_000;

/** Brings the schema up to date before anything reads it, reports the database in /readyz, closes it last. */
@Injectable()
class AuditDatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly db: AuditDatabase,
    @Inject(AUDIT_READS) private readonly reads: AuditDatabase,
    private readonly readiness: ReadinessRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const applied = await this.db.migrate();
    if (applied.length) this.logger.info({ schema: this.db.schema, migrations: applied }, 'audit database migrated');
    this.readiness.register({ name: 'postgres', check: () => this.reads.ping() });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.db.close(), this.reads.close()]);
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
        // REST reads and the readiness probe: a pool of their own, bounded like every dependency call (fail fast).
        {
          provide: AUDIT_READS,
          useFactory: (dependencyTimeoutMs: number) =>
            AuditDatabase.open({
              ...settings,
              max: 6,
              connectTimeoutMs: dependencyTimeoutMs,
              statementTimeoutMs: Math.max(dependencyTimeoutMs, READ_STATEMENT_TIMEOUT_MS),
            }),
          inject: [DEPENDENCY_TIMEOUT_MS],
        },
        AuditDatabaseLifecycle,
        { provide: ChainState, useFactory: (db: AuditDatabase) => new ChainState(db), inject: [AuditDatabase] },
        { provide: ViewWriter, useFactory: (db: AuditDatabase) => new ViewWriter(db), inject: [AuditDatabase] },
        { provide: PgAuditViews, useFactory: (reads: AuditDatabase) => new PgAuditViews(reads), inject: [AUDIT_READS] },
        { provide: AUDIT_VIEWS, useExisting: PgAuditViews },
      ],
      exports: [AuditDatabase, ChainState, ViewWriter, PgAuditViews, AUDIT_VIEWS],
    };
  }
}
