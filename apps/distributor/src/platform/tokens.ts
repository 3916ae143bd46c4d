export const DISTRIBUTOR_CONFIG = Symbol('distributor.config');
export const CATALOG = Symbol('distributor.catalog');
