import { createHmac } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog, type ManagedSecret } from '@rotor/catalog';
import { fingerprintsOf, scanKeyFrom, type Fingerprint, type ScanKey } from '@rotor/copy-fingerprint';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { describeFailure } from '../delivery/describe-failure';
import { ValueReader } from '../delivery/value-reader';
import { CATALOG, DISTRIBUTOR_CONFIG } from '../platform/tokens';

import { VersionRegistry } from './version-registry';

const DAY_MS = 86_400_000;
/** Below this, a fingerprint's prefilter bits would make guessing a value noticeably cheaper: it is not handed out. */
const PREFILTER_MIN_ENTROPY_BITS = 128;
const PASSWORD_ALPHABET_SIZE = 67;

export interface ScannableFingerprints {
  fingerprints: Fingerprint[];
  /**
   * Versions in the window without fingerprints under the current scan key: retired (so
   * unreadable) before the distributor saw them, or before ROTOR_CONTENT_HASH_KEY was rotated.
   */
  unfingerprinted: { secret: string; version: number }[];
}

/**
 * The keyed hashes copy discovery compares with. They are taken once per version, while the
 * value is still in GSM (at version-created, or at the first scan after it), under the
 * installation's scan key: derived from the content-hash key, so it is stable across replicas
 * and restarts without a new secret to manage, and reveals nothing of the content-hash key.
 * Each version's fingerprints name the key that took them: after the content-hash key is
 * rotated, live versions are fingerprinted again from GSM; retired ones cannot be.
 */
@Injectable()
export class CopyFingerprints {
  readonly scanKeyHex: string;
  readonly scanKey: ScanKey;
  /** Names the scan key in the registry without revealing it. */
  private readonly scanKeyId: string;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly registry: VersionRegistry,
    private readonly values: ValueReader,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.scanKeyHex = createHmac('sha256', config.contentHashKeys.current().secret).update('rotor/copy-scan/v1').digest('hex');
    this.scanKey = scanKeyFrom(this.scanKeyHex);
    this.scanKeyId = createHmac('sha256', this.scanKeyHex).update('rotor/copy-scan/key-id').digest('hex').slice(0, 16);
  }

  /** Records a new version and takes its fingerprints now; a failure is logged and retried by the next scan. */
  async versionCreated(version: { secret: string; version: number; gsmVersion: string; createdAt: string }): Promise<void> {
    await this.registry.created({
      secret: version.secret,
      version: version.version,
      gsmVersion: version.gsmVersion,
      createdAt: version.createdAt,
    });
    await this.fingerprint(version).catch((error: unknown) =>
      this.logger.warn(
        { secret: version.secret, version: version.version, err: describeFailure(error) },
        'could not fingerprint a new version; the next copy scan will',
      ),
    );
  }

  async versionRetired(version: { secret: string; version: number; gsmVersion: string; retiredAt: string }): Promise<void> {
    await this.registry.retired({ secret: version.secret, version: version.version, gsmVersion: version.gsmVersion }, version.retiredAt);
  }

  /** Fingerprints of every live and recently retired version of every catalog secret, taking missing ones from GSM. */
  async scannable(): Promise<ScannableFingerprints> {
    const since = new Date(Date.now() - this.config.copyScan.retiredDays * DAY_MS);
    const result: ScannableFingerprints = { fingerprints: [], unfingerprinted: [] };
    for (const secret of this.catalog.managedSecrets) {
      for (const known of await this.registry.scannable(secret.name, since)) {
        // Fingerprints taken under another key (before a rotation) would never match: take them again while GSM has the value.
        let fingerprints = known.scanKeyId === this.scanKeyId ? known.fingerprints : undefined;
        if (!fingerprints && known.retiredAt === undefined) fingerprints = await this.fingerprint(known).catch(() => undefined);
        if (fingerprints) result.fingerprints.push(...fingerprints);
        else result.unfingerprinted.push({ secret: known.secret, version: known.version });
      }
    }
    return result;
  }

  /** What an operator's scanner receives: prefilters only for values with enough entropy that they cost nothing. */
  forOperators(fingerprints: Fingerprint[]): Fingerprint[] {
    return fingerprints.map((fingerprint) => {
      const secret = findManagedSecret(this.catalog, fingerprint.secret);
      if (secret && entropyBits(secret) >= PREFILTER_MIN_ENTROPY_BITS) return fingerprint;
      const { prefilter: _prefilter, ...withoutPrefilter } = fingerprint;
      return withoutPrefilter;
    });
  }

  private async fingerprint(version: { secret: string; version: number; gsmVersion: string }): Promise<Fingerprint[]> {
    const value = await this.values.read(version.secret, version.version);
    const fingerprints = fingerprintsOf(this.scanKey, version, value);
    await this.registry.fingerprinted(version, { fingerprints, scanKeyId: this.scanKeyId });
    return fingerprints;
  }
}

/** Bits of entropy of the catalog's generator: what guessing a value costs. */
export function entropyBits(secret: ManagedSecret): number {
  const generator = secret.generator;
  switch (generator.kind) {
    case 'random-bytes':
      return generator.bytes * 8;
    case 'password':
      return generator.length * Math.log2(PASSWORD_ALPHABET_SIZE);
  }
}
