/**
 * Kubernetes label selectors as the API server reads `?labelSelector=`: comma-joined
 * requirements, each `key=value`, `key==value`, `key!=value`, `key`, `!key`,
 * `key in (a,b)` or `key notin (a,b)`. All requirements must hold.
 */
export type Requirement =
  { key: string; operator: 'in' | 'notin'; values: string[] } | { key: string; operator: 'exists' | 'does-not-exist' };

export class LabelSelectorError extends Error {}

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function parseLabelSelector(text: string | undefined): Requirement[] {
  const requirements: Requirement[] = [];
  for (const part of splitRequirements(text ?? '')) {
    requirements.push(parseRequirement(part));
  }
  return requirements;
}

export function matchesLabelSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  return requirements.every((requirement) => {
    const value = labels?.[requirement.key];
    switch (requirement.operator) {
      case 'exists':
        return value !== undefined;
      case 'does-not-exist':
        return value === undefined;
      case 'in':
        return value !== undefined && requirement.values.includes(value);
      case 'notin':
        // As in Kubernetes, `notin` (and `!=`) also match objects without the label.
        return value === undefined || !requirement.values.includes(value);
    }
  });
}

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    if (depth < 0 || depth > 1) throw new LabelSelectorError(`unbalanced parentheses in "${text}"`);
    if (char === ',' && depth === 0) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  if (depth !== 0) throw new LabelSelectorError(`unbalanced parentheses in "${text}"`);
  parts.push(text.slice(start));
  const trimmed = parts.map((part) => part.trim());
  if (trimmed.length === 1 && trimmed[0] === '') return [];
  if (trimmed.some((part) => part === '')) throw new LabelSelectorError(`empty requirement in "${text}"`);
  return trimmed;
}

function parseRequirement(part: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
  if (set) {
    const values = set[3]!.split(',').map((value) => value.trim());
    if (values.length === 1 && values[0] === '') throw new LabelSelectorError(`"${part}": ${set[2]} needs at least one value`);
    return { key: checkKey(set[1]!), operator: set[2] as 'in' | 'notin', values: values.map(checkValue) };
  }
  const comparison = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (comparison) {
    const key = checkKey(comparison[1]!);
    const value = checkValue(comparison[3]!);
    return { key, operator: comparison[2] === '!=' ? 'notin' : 'in', values: [value] };
  }
  if (part.startsWith('!')) return { key: checkKey(part.slice(1).trim()), operator: 'does-not-exist' };
  return { key: checkKey(part), operator: 'exists' };
}

function checkKey(key: string): string {
  if (!KEY.test(key) || key.length > 316) throw new LabelSelectorError(`invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value)) throw new LabelSelectorError(`invalid label value "${value}"`);
  return value;
}
