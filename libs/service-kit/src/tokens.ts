/** Injection tokens shared by every rotor service. */
export const LOGGER = Symbol('rotor.logger');
export const SERVICE_NAME = Symbol('rotor.service-name');
/** ROTOR_DEPENDENCY_TIMEOUT_MS: how long a request waits for one Kafka, Redis or GSM call. */
export const DEPENDENCY_TIMEOUT_MS = Symbol('rotor.dependency-timeout-ms');
export const DEFAULT_DEPENDENCY_TIMEOUT_MS = 1_500;
