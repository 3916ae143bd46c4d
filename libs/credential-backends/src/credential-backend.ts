import type { BackendKind, RevocationHandle } from '@rotor/contracts';

export interface IssueRequest {
  leaseId: string;
  /** The catalog role's backend settings. */
  settings: Record<string, unknown>;
  expiresAt: Date;
}

/**
 * What a backend hands out: the credential (returned once to the caller, never stored)
 * and the handle the revoker needs to end it.
 */
export interface IssuedCredential {
  credential: Record<string, string>;
  handle: RevocationHandle;
}

/** A credential that exists at a backend, recognised as rotor's by its name, which carries its lease id. */
export interface MintedCredential {
  leaseId: string;
  handle: RevocationHandle;
}

/** One kind of dynamic credential. Every method is idempotent: revoking a vanished credential succeeds. */
export interface CredentialBackend {
  readonly kind: BackendKind;
  issue(request: IssueRequest): Promise<IssuedCredential>;
  renew(handle: RevocationHandle, expiresAt: Date): Promise<void>;
  revoke(handle: RevocationHandle): Promise<void>;
  /**
   * Every credential rotor minted that still exists there, for the revoker's reconciliation
   * sweep. Absent where nothing outlives rotor's own records (opaque tokens).
   */
  listMinted?(): Promise<MintedCredential[]>;
  close?(): Promise<void>;
}
