/** Issuer-wide injection tokens. */
export const ISSUER_CONFIG = Symbol('issuer.config');
export const CATALOG = Symbol('issuer.catalog');
export const DEPENDENCY_TIMEOUT_MS = Symbol('issuer.dependency-timeout-ms');
