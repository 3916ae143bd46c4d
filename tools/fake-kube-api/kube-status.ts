/** A Kubernetes `Status` failure: what the API server answers for any error. */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; kind?: string },
  ) {
    super(message);
  }

  toStatus(): KubeStatus {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      details: this.details,
      code: this.code,
    };
  }
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; uid?: string };
  code: number;
}

export const notFound = (resource: string, name: string) =>
  new KubeStatusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
export const alreadyExists = (resource: string, name: string) =>
  new KubeStatusError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });
export const conflict = (
  resource: string,
  name: string,
  why = 'the object has been modified; please apply your changes to the latest version and try again',
) => new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": ${why}`, { name, kind: resource });
export const invalid = (kind: string, name: string, cause: string) =>
  new KubeStatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${cause}`, { name, kind: kind.toLowerCase() + 's' });
export const badRequest = (message: string) => new KubeStatusError(400, 'BadRequest', message);
