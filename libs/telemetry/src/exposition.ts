/**
 * The value of the sample `name` in a Prometheus or OpenMetrics text exposition (what
 * /metrics answers) whose labels include `labels`, whatever their order; undefined when there
 * is none. Every rotor sample has labels (rotor_service at least); an exemplar after the value
 * is ignored.
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const [, metric, labelText = '', reading] = /^(\w+)\{([^}]*)\} (\S+)/.exec(line) ?? [];
    if (metric !== name) continue;
    const found = new Map([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((match): [string, string] => [match[1]!, match[2]!]));
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) return Number(reading);
  }
  return undefined;
}
