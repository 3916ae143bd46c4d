import { activeLeaseKeys, holderOf } from './active-leases';

/** What Redis Cluster hashes: the part between the first `{` and the next `}`, when not empty (else the whole key). */
const hashedPart = (key: string): string => {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
};

describe('active-lease keys', () => {
  it('puts every key the quota script touches for one role in one Redis Cluster hash slot', () => {
    const holders = [
      holderOf({ holder: { kind: 'workload', workload: { namespace: 'shop', serviceAccount: 'orders' } } }),
      // An operator subject may itself contain braces: the role's tag still comes first.
      holderOf({ holder: { kind: 'operator', subject: 'o{dd}@example.com' } }),
    ];
    for (const holder of holders) {
      expect(hashedPart(activeLeaseKeys.holder('db-read', holder))).toBe(hashedPart(activeLeaseKeys.role('db-read')));
    }
  });

  it('keeps roles in slots of their own', () => {
    expect(hashedPart(activeLeaseKeys.role('db-read'))).not.toBe(hashedPart(activeLeaseKeys.role('db-write')));
  });
});
