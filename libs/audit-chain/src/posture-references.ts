import type { FindingKind, Reference } from '@rotor/rest-contract';

/**
 * The standards each posture finding answers to.
 *
 * OWASP Top 10 Non-Human Identities Risks – 2025 (owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025)
 * and NIST Cybersecurity Framework 2.0 Core subcategories (NIST CSWP 29). Ids and titles as published.
 */
export type { Reference };

const owasp = (id: string, title: string): Reference => ({ framework: 'OWASP NHI Top 10 (2025)', id, title });
const csf = (id: string, title: string): Reference => ({ framework: 'NIST CSF 2.0', id, title });

export const References = {
  improperOffboarding: owasp('NHI1:2025', 'Improper Offboarding'),
  secretLeakage: owasp('NHI2:2025', 'Secret Leakage'),
  longLivedSecrets: owasp('NHI7:2025', 'Long-Lived Secrets'),
  humanUse: owasp('NHI10:2025', 'Human Use of NHI'),

  identitiesManaged: csf(
    'PR.AA-01',
    'Identities and credentials for authorized users, services, and hardware are managed by the organization',
  ),
  accessPolicy: csf(
    'PR.AA-05',
    'Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties',
  ),
  dataAtRest: csf('PR.DS-01', 'The confidentiality, integrity, and availability of data-at-rest are protected'),
  dataInventory: csf('ID.AM-07', 'Inventories of data and corresponding metadata for designated data types are maintained'),
  personnelActivity: csf('DE.CM-03', 'Personnel activity and technology usage are monitored to find potentially adverse events'),
  runtimeMonitored: csf(
    'DE.CM-09',
    'Computing hardware and software, runtime environments, and their data are monitored to find potentially adverse events',
  ),
} as const;

/** Which references each kind of finding carries (a break-glass whose follow-up is not done adds the long-lived-secret ones). */
export const FindingReferences = {
  'rotation-overdue': [References.longLivedSecrets, References.identitiesManaged],
  'irrevocable-lease': [References.improperOffboarding, References.longLivedSecrets, References.identitiesManaged],
  drift: [References.secretLeakage, References.runtimeMonitored, References.dataAtRest],
  'manual-copy': [References.secretLeakage, References.dataInventory, References.dataAtRest],
  'break-glass': [References.humanUse, References.personnelActivity, References.accessPolicy],
  'ttl-above-ceiling': [References.longLivedSecrets, References.accessPolicy],
} as const satisfies Record<FindingKind, readonly Reference[]>;

export type { FindingKind };
