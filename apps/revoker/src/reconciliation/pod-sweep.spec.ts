import type { PodLister } from '@rotor/kube-client';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import type { LeaseClock, PodBoundLease } from '../leases/lease-clock';
import type { RevocationReason } from '../leases/tracked-lease';

import { podGone, PodSweep } from './pod-sweep';

const MARGIN_MS = 60_000;
const NOW = Date.parse('2026-12-05T12:00:00Z');
const old = new Date(NOW - 10 * 60_000);
const config = { podSweep: { intervalMs: 30_000, marginMs: MARGIN_MS } } as RevokerConfig;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

/** The clock's pod-bound index and records, in memory; records what was asked to be revoked. */
function fakeClock(leases: PodBoundLease[]) {
  const requested: [string, RevocationReason][] = [];
  const clock = {
    scanIndex: async (index: string) => {
      expect(index).toBe('pod-bound');
      return ['0', leases.map((lease) => lease.id)];
    },
    podFields: async (ids: string[]) => ids.map((id) => leases.find((lease) => lease.id === id)),
    requestNow: async (id: string, reason: RevocationReason) => (requested.push([id, reason]), true),
  } as unknown as LeaseClock;
  return { clock, requested };
}

/** Namespaces' pods (name → uid), or an error per namespace; counts the LISTs. */
function fakeLister(namespaces: Record<string, Record<string, string> | Error>) {
  const lists: string[] = [];
  const lister: PodLister = {
    podsIn: async (namespace) => {
      lists.push(namespace);
      const pods = namespaces[namespace];
      if (pods instanceof Error) throw pods;
      return new Map(Object.entries(pods ?? {}));
    },
  };
  return { lister, lists };
}

/** `null`: a record without an issue time. */
const lease = (id: string, namespace: string, podName: string, podUid: string, issuedAt: Date | null = old): PodBoundLease => ({
  id,
  namespace,
  podName,
  podUid,
  ...(issuedAt ? { issuedAt } : {}),
});

/** A series' value, 0 when it has none yet. */
const metricValue = async (metrics: Metrics, name: string, labels: Record<string, string> = {}) =>
  (await metrics.valueOf(name, labels)) ?? 0;

describe('podGone', () => {
  const pods = new Map([['api-0', 'uid-a']]);
  it('says deleted when no pod has the name, replaced when the name has another uid, nothing when it is the same pod', () => {
    expect(podGone({ podName: 'api-1', podUid: 'uid-b' }, pods)).toBe('deleted');
    expect(podGone({ podName: 'api-0', podUid: 'uid-new' }, pods)).toBe('replaced');
    expect(podGone({ podName: 'api-0', podUid: 'uid-a' }, pods)).toBeUndefined();
    // A token without the pod's uid can only be matched by name.
    expect(podGone({ podName: 'api-0' }, pods)).toBeUndefined();
  });
});

describe('PodSweep', () => {
  it('revokes the lease whose pod is gone and the one whose pod name now has a new uid, and keeps the one whose pod is there', async () => {
    const { clock, requested } = fakeClock([
      lease('gone', 'shop', 'orders-0', 'uid-0'),
      lease('replaced', 'shop', 'orders-1', 'uid-1'),
      lease('present', 'shop', 'orders-2', 'uid-2'),
    ]);
    const { lister } = fakeLister({ shop: { 'orders-1': 'uid-1-recreated', 'orders-2': 'uid-2' } });
    const metrics = new Metrics('revoker-test');
    const result = await new PodSweep(clock, lister, config, quiet, metrics).sweep(NOW);

    expect(requested).toEqual([
      ['gone', 'pod-gone'],
      ['replaced', 'pod-gone'],
    ]);
    expect(result).toEqual({ leases: 3, namespaces: 1, failedNamespaces: 0, podsChecked: 3, waiting: 0, requested: 2 });
    expect(await metricValue(metrics, 'rotor_pod_sweep_pods_checked_total')).toBe(3);
    expect(await metricValue(metrics, 'rotor_pod_gone_leases_total', { gone: 'deleted' })).toBe(1);
    expect(await metricValue(metrics, 'rotor_pod_gone_leases_total', { gone: 'replaced' })).toBe(1);
  });

  it('lists each namespace once, however many leases it holds', async () => {
    const { clock } = fakeClock([
      lease('a', 'shop', 'p-0', 'u-0'),
      lease('b', 'shop', 'p-1', 'u-1'),
      lease('c', 'shop', 'p-2', 'u-2'),
      lease('d', 'pay', 'p-0', 'u-3'),
    ]);
    const { lister, lists } = fakeLister({ shop: { 'p-0': 'u-0', 'p-1': 'u-1', 'p-2': 'u-2' }, pay: { 'p-0': 'u-3' } });
    await new PodSweep(clock, lister, config, quiet, new Metrics('revoker-test')).sweep(NOW);
    expect(lists.sort()).toEqual(['pay', 'shop']);
  });

  it('leaves a lease issued within the margin alone although its pod is not (yet) listed, and revokes it once past the margin', async () => {
    const fresh = lease('fresh', 'shop', 'orders-9', 'uid-9', new Date(NOW - 5_000));
    const { clock, requested } = fakeClock([fresh]);
    const { lister } = fakeLister({ shop: {} });
    const sweep = new PodSweep(clock, lister, config, quiet, new Metrics('revoker-test'));

    expect(await sweep.sweep(NOW)).toMatchObject({ waiting: 1, requested: 0 });
    expect(requested).toEqual([]);
    expect(await sweep.sweep(NOW - 5_000 + MARGIN_MS)).toMatchObject({ waiting: 0, requested: 1 });
    expect(requested).toEqual([['fresh', 'pod-gone']]);
  });

  it('counts a record without an issue time (tracked by an older revoker) from its own start, never earlier', async () => {
    const { clock, requested } = fakeClock([lease('legacy', 'shop', 'orders-0', 'uid-0', null)]);
    const sweep = new PodSweep(clock, fakeLister({ shop: {} }).lister, config, quiet, new Metrics('revoker-test'));
    expect(await sweep.sweep(Date.now())).toMatchObject({ waiting: 1, requested: 0 });
    expect(await sweep.sweep(Date.now() + MARGIN_MS + 1_000)).toMatchObject({ requested: 1 });
    expect(requested).toEqual([['legacy', 'pod-gone']]);
  });

  it('revokes nothing in a namespace whose list fails (API server down, forbidden), counts it, and still sweeps the others', async () => {
    const { clock, requested } = fakeClock([lease('unlisted', 'shop', 'orders-0', 'uid-0'), lease('elsewhere', 'pay', 'api-0', 'uid-1')]);
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    const forbidden = Object.assign(new Error('HTTP-Code: 403 Message: pods is forbidden'), { code: 403 });
    const metrics = new Metrics('revoker-test');
    const down = await new PodSweep(clock, fakeLister({ shop: refused, pay: {} }).lister, config, quiet, metrics).sweep(NOW);
    expect(down).toMatchObject({ namespaces: 1, failedNamespaces: 1, podsChecked: 1, requested: 1 });
    expect(requested).toEqual([['elsewhere', 'pod-gone']]); // only the answered namespace
    expect(await metricValue(metrics, 'rotor_pod_sweep_list_failures_total', { reason: 'unreachable' })).toBe(1);

    requested.length = 0;
    const denied = await new PodSweep(clock, fakeLister({ shop: forbidden, pay: forbidden }).lister, config, quiet, metrics).sweep(NOW);
    expect(denied).toMatchObject({ namespaces: 0, failedNamespaces: 2, requested: 0 });
    expect(requested).toEqual([]);
    expect(await metricValue(metrics, 'rotor_pod_sweep_list_failures_total', { reason: 'http-403' })).toBe(2);
  });

  it('skips a lease already asked to be revoked (by anyone, a previous sweep included)', async () => {
    const { clock, requested } = fakeClock([{ ...lease('leaving', 'shop', 'orders-0', 'uid-0'), requestedReason: 'pod-gone' }]);
    const { lister, lists } = fakeLister({ shop: {} });
    expect(await new PodSweep(clock, lister, config, quiet, new Metrics('revoker-test')).sweep(NOW)).toMatchObject({
      leases: 0,
      requested: 0,
    });
    expect(requested).toEqual([]);
    expect(lists).toEqual([]); // nothing left to check: no LIST at all
  });
});
