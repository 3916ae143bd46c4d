import type { BackendSettingsOf } from '@rotor/catalog';
import type { BackendKind, RevocationHandle } from '@rotor/contracts';

/**
 * The revocation handle a backend of kind K mints. A kind outside the contracts' list (a
 * test-only backend, docs/extending.md) has a handle that names its kind and nothing else.
 */
export type HandleOf<K extends string> = K extends BackendKind ? Extract<RevocationHandle, { backend: K }> : { backend: K };

/** A catalog role's settings for backend kind K (the role's `backend` entry). */
export type SettingsOf<K extends string> = K extends BackendKind ? BackendSettingsOf<K> : { kind: K };

export interface IssueRequest<Settings = SettingsOf<BackendKind>> {
  leaseId: string;
  /** The catalog role's backend settings. */
  settings: Settings;
  expiresAt: Date;
}

/**
 * What a backend hands out: the credential (returned once to the caller, never stored)
 * and the handle the revoker needs to end it.
 */
export interface IssuedCredential<Handle = RevocationHandle> {
  credential: Record<string, string>;
  handle: Handle;
}

/** A credential that exists at a backend, recognised as rotor's by its name, which carries its lease id. */
export interface MintedCredential<Handle = RevocationHandle> {
  leaseId: string;
  handle: Handle;
}

/**
 * One kind of dynamic credential, typed by its kind's catalog settings and revocation handle.
 * Every method is idempotent: revoking a vanished credential succeeds.
 */
export interface CredentialBackend<K extends string = BackendKind, Settings = SettingsOf<K>, Handle = HandleOf<K>> {
  readonly kind: K;
  /**
   * The handle this backend mints for a lease id, from the id alone: the only handle a
   * `lease.issued` event may name, and what an orphan sweep revokes.
   */
  leaseHandle(leaseId: string): Handle;
  issue(request: IssueRequest<Settings>): Promise<IssuedCredential<Handle>>;
  renew(handle: Handle, expiresAt: Date): Promise<void>;
  revoke(handle: Handle): Promise<void>;
  /**
   * Every credential rotor minted that still exists there, for the revoker's reconciliation
   * sweep. Absent where nothing outlives rotor's own records (opaque tokens).
   */
  listMinted?(): Promise<MintedCredential<Handle>[]>;
  /** Checks the backend's upstream; when present, /readyz reports it under the backend's kind. */
  ping?(): Promise<void>;
  close?(): Promise<void>;
}
