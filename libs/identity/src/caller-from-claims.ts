import { DomainError } from '@rotor/errors';

import type { Caller, WorkloadCaller } from './caller';

/** The claims of a token whose signature, issuer, audience and lifetime were already checked. */
export interface VerifiedClaims {
  sub?: string;
  [claim: string]: unknown;
}

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);

/**
 * Who a verified token speaks for. A Kubernetes token (a `system:` subject or a
 * `kubernetes.io` claim) is a workload's or nothing: whatever else it claims, a `groups`
 * claim included, it never carries operator rights.
 */
export function callerFrom(payload: VerifiedClaims): Caller {
  // `sub` is only typed by the token's author: a non-string must be refused, not crash (500).
  if (payload.sub !== undefined && typeof payload.sub !== 'string')
    throw unauthenticated('unknown-subject', "the token's subject is not a string");
  const subject = payload.sub ?? '';
  const kubernetes = payload['kubernetes.io'] as { namespace?: unknown; pod?: { name?: unknown; uid?: unknown } } | undefined;
  if (subject.startsWith('system:') || kubernetes !== undefined) return workloadFrom(subject, kubernetes);
  const groups = payload['groups'];
  if (Array.isArray(groups) && groups.every((group) => typeof group === 'string')) {
    const rotorGroups = groups.filter((group) => group.startsWith('rotor:'));
    if (rotorGroups.length > 0) return { kind: 'operator', subject, groups: rotorGroups };
  }
  throw unauthenticated('unknown-subject', 'the token is neither a service-account token nor a rotor operator token');
}

function workloadFrom(
  subject: string,
  kubernetes: { namespace?: unknown; pod?: { name?: unknown; uid?: unknown } } | undefined,
): WorkloadCaller {
  const match = SERVICE_ACCOUNT_SUBJECT.exec(subject);
  if (!match?.[1] || !match[3] || (kubernetes?.namespace !== undefined && kubernetes.namespace !== match[1]))
    throw unauthenticated('unknown-subject', 'the token is a Kubernetes token but not a valid service-account token');
  const pod = kubernetes?.pod;
  return {
    kind: 'workload',
    subject,
    workload: {
      namespace: match[1],
      serviceAccount: match[3],
      ...(typeof pod?.name === 'string' && pod.name ? { podName: pod.name } : {}),
      ...(typeof pod?.uid === 'string' && pod.uid ? { podUid: pod.uid } : {}),
    },
  };
}
