export const AUDITOR_CONFIG = Symbol('auditor.config');
