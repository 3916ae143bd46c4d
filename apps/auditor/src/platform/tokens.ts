export const AUDITOR_CONFIG = Symbol('auditor.config');
export const CATALOG = Symbol('auditor.catalog');
/** The audit views' reader (PostgreSQL; memory in unit tests). */
export const AUDIT_VIEWS = Symbol('auditor.views');
/** The auditor database's pool for REST reads and the readiness probe (bounded by ROTOR_DEPENDENCY_TIMEOUT_MS). */
export const AUDIT_READS = Symbol('auditor.reads');
