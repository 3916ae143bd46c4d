/** Injection tokens shared by every rotor service. */
export const LOGGER = Symbol('rotor.logger');
export const SERVICE_NAME = Symbol('rotor.service-name');
