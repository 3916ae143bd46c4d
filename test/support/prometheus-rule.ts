/** The PrometheusRule rotor ships (k8s/observability/prometheus-rule.yaml), parsed. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'yaml';

export const PROMETHEUS_RULE_FILE = join(__dirname, '..', '..', 'k8s', 'observability', 'prometheus-rule.yaml');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: Rule[];
}

/** The rule groups of the PrometheusRule's spec: the content of a Prometheus rules file. */
export function ruleGroups(): RuleGroup[] {
  const rule = parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as { kind: string; spec: { groups: RuleGroup[] } };
  if (rule.kind !== 'PrometheusRule') throw new Error(`${PROMETHEUS_RULE_FILE} holds a ${rule.kind}, not a PrometheusRule`);
  return rule.spec.groups;
}

export const alertRules = (groups = ruleGroups()): (Rule & { alert: string })[] =>
  groups.flatMap((group) => group.rules.filter((rule): rule is Rule & { alert: string } => rule.alert !== undefined));
