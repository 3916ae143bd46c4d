/**
 * Why an event's reference was refused. A fixed list, so it can label a metric: the refused
 * value itself (a forged project or secret name) never becomes a label.
 */
export type ReferenceRejection =
  | 'malformed-name'
  | 'foreign-project'
  | 'secret-mismatch'
  | 'version-mismatch'
  | 'unknown-secret'
  | 'unknown-target'
  | 'unknown-role'
  | 'backend-mismatch'
  | 'handle-mismatch'
  | 'lease-mismatch';

export interface GsmVersionRef {
  /** The GSM project this service is configured with; never one an event names. */
  project: string;
  /** A managed secret the catalog or the service's own records know. */
  secret: string;
  version: number;
}

/** `projects/P/secrets/S/versions/V`, built from trusted parts only. */
export const gsmVersionName = ({ project, secret, version }: GsmVersionRef): string =>
  `projects/${project}/secrets/${secret}/versions/${version}`;

export type GsmReferenceCheck = { ok: true; name: string } | { ok: false; reason: ReferenceRejection };

const VERSION_NAME = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/(\d+)$/;

/**
 * Checks a GSM version name taken from an event against what the consumer expects, and returns
 * the name rebuilt from the expected parts: callers use that, never the event's string, so a
 * name that merely looks right (another project, another secret, another version) reaches no
 * GSM call.
 */
export function checkGsmVersionName(name: string, expected: GsmVersionRef): GsmReferenceCheck {
  const match = VERSION_NAME.exec(name);
  if (!match) return { ok: false, reason: 'malformed-name' };
  const [, project, secret, version] = match;
  if (project !== expected.project) return { ok: false, reason: 'foreign-project' };
  if (secret !== expected.secret) return { ok: false, reason: 'secret-mismatch' };
  if (Number(version) !== expected.version) return { ok: false, reason: 'version-mismatch' };
  return { ok: true, name: gsmVersionName(expected) };
}
