import type { EmulatorOptions } from './options';
import { QuotaError } from './rpc-error';

/** Sliding-window counter: at most `limit` admissions per `windowMs` for each key. */
class SlidingWindow {
  /** key -> admission times, oldest at head */
  private readonly keys = new Map<string, { times: number[]; head: number }>();

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Admits and counts the request, or returns false (and counts nothing). */
  tryAdmit(key: string, now = Date.now()): boolean {
    let w = this.keys.get(key);
    if (!w) {
      w = { times: [], head: 0 };
      this.keys.set(key, w);
    }
    while (w.head < w.times.length && w.times[w.head]! <= now - this.windowMs) w.head += 1;
    if (w.head > 1024 && w.head * 2 > w.times.length) {
      w.times = w.times.slice(w.head);
      w.head = 0;
    }
    if (w.times.length - w.head >= this.limit) return false;
    w.times.push(now);
    return true;
  }
}

type QuotaKind = 'write' | 'access' | 'read';

/** Which project quota each RPC is charged to (IAM and rotation RPCs are UNIMPLEMENTED). */
const QUOTA_KIND: Record<string, QuotaKind> = {
  CreateSecret: 'write',
  UpdateSecret: 'write',
  DeleteSecret: 'write',
  AddSecretVersion: 'write',
  EnableSecretVersion: 'write',
  DisableSecretVersion: 'write',
  DestroySecretVersion: 'write',
  AccessSecretVersion: 'access',
  GetSecret: 'read',
  ListSecrets: 'read',
  GetSecretVersion: 'read',
  ListSecretVersions: 'read',
};
const QUOTA_METRIC: Record<QuotaKind, { metric: string; id: string; limitId: string }> = {
  write: { metric: 'Write requests', id: 'write_requests', limitId: 'WriteRequestsPerMinutePerProject' },
  access: { metric: 'Access requests', id: 'access_requests', limitId: 'AccessRequestsPerMinutePerProject' },
  read: { metric: 'Read requests', id: 'read_requests', limitId: 'ReadRequestsPerMinutePerProject' },
};
const SERVICE_NAME = 'secretmanager.googleapis.com';

/** The fields of a request that name what it is about (its project decides the quota bucket). */
export interface QuotaSubject {
  name?: string;
  parent?: string;
  secret?: { name?: string };
}

const requestResource = (req: QuotaSubject): string => req.name || req.parent || req.secret?.name || '';

export interface Quotas {
  /** Throws QuotaError when the request is over a limit; otherwise counts it. */
  admit(method: string, req: QuotaSubject): void;
  summary: string;
}

export function makeQuotas(opts: EmulatorOptions): Quotas {
  const windows: Record<QuotaKind, SlidingWindow | undefined> = {
    write: opts.writesPerMinute > 0 ? new SlidingWindow(opts.writesPerMinute, 60_000) : undefined,
    access: opts.accessesPerMinute > 0 ? new SlidingWindow(opts.accessesPerMinute, 60_000) : undefined,
    read: opts.readsPerMinute > 0 ? new SlidingWindow(opts.readsPerMinute, 60_000) : undefined,
  };
  const perSecret = opts.versionWritesPerSecondPerSecret > 0 ? new SlidingWindow(opts.versionWritesPerSecondPerSecret, 1000) : undefined;

  function admit(method: string, req: QuotaSubject): void {
    const kind = QUOTA_KIND[method];
    const window = kind && windows[kind];
    const m = /^projects\/([^/]+)/.exec(requestResource(req));
    if (kind && window && m) {
      const project = m[1]!;
      if (!window.tryAdmit(project)) {
        const q = QUOTA_METRIC[kind];
        throw new QuotaError(
          `Quota exceeded for quota metric '${q.metric}' and limit '${q.metric} per minute per project' ` +
            `of service '${SERVICE_NAME}' for consumer 'project:${project}'.`,
          {
            consumer: `projects/${project}`,
            quota_limit: q.limitId,
            quota_limit_value: String(window.limit),
            quota_location: 'global',
            quota_metric: `${SERVICE_NAME}/${q.id}`,
            service: SERVICE_NAME,
          },
        );
      }
    }
    if (perSecret && method === 'AddSecretVersion' && req.parent) {
      if (!perSecret.tryAdmit(req.parent)) {
        throw new QuotaError(
          `Quota exceeded for quota metric 'Secret version additions' and limit 'Secret version additions ` +
            `per second per secret' of service '${SERVICE_NAME}' for secret '${req.parent}'.`,
          {
            consumer: m ? `projects/${m[1]}` : '',
            quota_limit: 'VersionAdditionsPerSecondPerSecret',
            quota_limit_value: String(perSecret.limit),
            quota_metric: `${SERVICE_NAME}/secret_version_additions`,
            secret: req.parent,
            service: SERVICE_NAME,
          },
        );
      }
    }
  }

  const perProject = (
    [
      ['writes', opts.writesPerMinute],
      ['accesses', opts.accessesPerMinute],
      ['reads', opts.readsPerMinute],
    ] as const
  )
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${n} ${what}/min`);
  const parts = [
    ...(perProject.length ? [`per project ${perProject.join(', ')}`] : []),
    ...(perSecret ? [`per secret ${perSecret.limit} version additions/s`] : []),
  ];
  return { admit, summary: parts.length ? `quotas: ${parts.join('; ')}` : 'no quotas' };
}
