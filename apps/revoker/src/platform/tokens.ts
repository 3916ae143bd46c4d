export const REVOKER_CONFIG = Symbol('revoker.config');
export const CATALOG = Symbol('revoker.catalog');
