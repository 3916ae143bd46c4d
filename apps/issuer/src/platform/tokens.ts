/** Issuer-wide injection tokens. */
export const ISSUER_CONFIG = Symbol('issuer.config');
export const CATALOG = Symbol('issuer.catalog');
export const DEPENDENCY_TIMEOUT_MS = Symbol('issuer.dependency-timeout-ms');
/** ROTOR_DEDUPE_WINDOW_SECONDS in ms: how long ended leases' records and handled event ids are kept. */
export const DEDUPE_WINDOW_MS = Symbol('issuer.dedupe-window-ms');
