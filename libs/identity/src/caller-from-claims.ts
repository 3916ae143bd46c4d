import { DomainError } from '@rotor/errors';

import { OperatorGroups, type OperatorCaller, type WorkloadCaller } from './caller';

/** The claims of a token whose signature, issuer, audience and lifetime were already checked. */
export interface VerifiedClaims {
  sub?: string;
  [claim: string]: unknown;
}

/** How an operator token's groups become rotor groups. */
export interface OperatorClaimRules {
  /** The claim holding the IdP's groups: a name, or a dotted path into nested claims (`realm_access.roles`). */
  groupsClaim: string;
  /**
   * IdP group → the rotor groups it grants. Without a map, only IdP groups named as rotor's
   * own (`rotor:sre`, `rotor:auditor`, `rotor:introspect`) count.
   */
  groupMap?: ReadonlyMap<string, readonly string[]>;
}

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
const ROTOR_GROUPS: ReadonlySet<string> = new Set(Object.values(OperatorGroups));

const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);

type KubernetesClaim = { namespace?: unknown; pod?: { name?: unknown; uid?: unknown } };

/** `sub` is only typed by the token's author: a non-string must be refused, not crash (500). */
function subjectOf(payload: VerifiedClaims): string {
  if (payload.sub !== undefined && typeof payload.sub !== 'string')
    throw unauthenticated('unknown-subject', "the token's subject is not a string");
  return payload.sub ?? '';
}

/**
 * The workload a token of the cluster's service-account issuer speaks for. Such a token is a
 * workload's or nothing: whatever else it claims, a `groups` claim included, it never carries
 * operator rights (those come only from the operator issuer, {@link operatorFrom}).
 */
export function workloadFrom(payload: VerifiedClaims): WorkloadCaller {
  const subject = subjectOf(payload);
  const kubernetes = payload['kubernetes.io'] as KubernetesClaim | undefined;
  const match = SERVICE_ACCOUNT_SUBJECT.exec(subject);
  if (!match?.[1] || !match[3] || (kubernetes?.namespace !== undefined && kubernetes.namespace !== match[1]))
    throw unauthenticated('unknown-subject', 'the token is not a valid service-account token');
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

/**
 * The person a token of the operator issuer (the organisation's OpenID Provider) speaks for,
 * with the rotor groups its IdP groups map to; possibly none, which every operator route
 * refuses (403). A token shaped like a Kubernetes one is refused: workload identities never
 * come from this issuer, so one that does is a misconfigured or hostile IdP.
 */
export function operatorFrom(payload: VerifiedClaims, rules: OperatorClaimRules): OperatorCaller {
  const subject = subjectOf(payload);
  if (!subject) throw unauthenticated('unknown-subject', 'the operator token has no subject');
  if (subject.startsWith('system:') || payload['kubernetes.io'] !== undefined)
    throw unauthenticated('not-an-operator-token', 'a Kubernetes identity cannot sign in as an operator');
  const granted = new Set<string>();
  for (const group of idpGroups(claimAt(payload, rules.groupsClaim))) {
    if (rules.groupMap) for (const rotorGroup of rules.groupMap.get(group) ?? []) granted.add(rotorGroup);
    else if (ROTOR_GROUPS.has(group)) granted.add(group);
  }
  return { kind: 'operator', subject, groups: [...granted].sort() };
}

/** A claim by its exact name first (`https://example.com/groups`), else by a dotted path. */
function claimAt(payload: VerifiedClaims, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Groups as IdPs send them: a list of strings, or one string. Anything else is no groups. */
const idpGroups = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((group): group is string => typeof group === 'string') : [];

/**
 * Reads ROTOR_OPERATOR_GROUP_MAP: `idp-group=rotor:group` pairs separated by commas; an IdP
 * group may appear in several pairs. Only rotor's own groups may be granted.
 */
export function parseGroupMap(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const pair of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const idpGroup = pair.slice(0, at).trim();
    const rotorGroup = pair.slice(at + 1).trim();
    if (at <= 0 || !idpGroup) throw new Error(`ROTOR_OPERATOR_GROUP_MAP: "${pair}" is not idp-group=rotor:group`);
    if (!ROTOR_GROUPS.has(rotorGroup))
      throw new Error(`ROTOR_OPERATOR_GROUP_MAP: "${rotorGroup}" is not a rotor group (${[...ROTOR_GROUPS].join(', ')})`);
    map.set(idpGroup, [...new Set([...(map.get(idpGroup) ?? []), rotorGroup])]);
  }
  return map;
}
