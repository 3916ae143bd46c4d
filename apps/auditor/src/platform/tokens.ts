export const AUDITOR_CONFIG = Symbol('auditor.config');
export const CATALOG = Symbol('auditor.catalog');
/** The audit views' reader (PostgreSQL; memory in unit tests). */
export const AUDIT_VIEWS = Symbol('auditor.views');
