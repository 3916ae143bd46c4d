export const AUDITOR_CONFIG = Symbol('auditor.config');
export const CATALOG = Symbol('auditor.catalog');
