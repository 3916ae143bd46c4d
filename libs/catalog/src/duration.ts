// The duration format is part of the REST contract too (a lease's `ttl: "15m"`), so it lives with the contracts.
export { parseDuration } from '@rotor/contracts';
