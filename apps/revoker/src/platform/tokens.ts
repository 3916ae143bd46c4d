export const REVOKER_CONFIG = Symbol('revoker.config');
