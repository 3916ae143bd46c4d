import { collectRunPage, type RunSummary } from './emergency-index';

/** An index of ids newest first, with each run's state; `gone` ids have lost their record. */
const index = (runs: [string, 'running' | 'completed' | 'failed' | 'gone'][]) => {
  const reads: [number, number][] = [];
  return {
    reads,
    read: async (start: number, count: number) => {
      reads.push([start, count]);
      return runs.slice(start, start + count).map(([id]) => id);
    },
    load: async (ids: string[]): Promise<RunSummary[]> =>
      ids.map((id) => {
        const state = runs.find(([run]) => run === id)?.[1];
        return state && state !== 'gone' ? { id, state } : undefined;
      }),
  };
};

describe('collectRunPage', () => {
  const runs: [string, 'running' | 'completed' | 'failed' | 'gone'][] = [
    ['r9', 'running'],
    ['r8', 'completed'],
    ['r7', 'gone'],
    ['r6', 'failed'],
    ['r5', 'completed'],
    ['r4', 'completed'],
  ];

  it('pages newest first and gives the last id of a full page as the cursor', async () => {
    const { read, load } = index(runs);
    const first = await collectRunPage({ start: 0, limit: 2, read, load });
    // It reads on past r7 (gone) to learn that a next page exists.
    expect(first).toEqual({ ids: ['r9', 'r8'], next: 'r8', gone: ['r7'] });
    // The index places the cursor (r8 is at rank 1): the next page starts after it.
    const second = await collectRunPage({ start: 2, limit: 2, read, load });
    expect(second).toEqual({ ids: ['r6', 'r5'], next: 'r5', gone: ['r7'] });
    const last = await collectRunPage({ start: 5, limit: 2, read, load });
    expect(last).toEqual({ ids: ['r4'], gone: [] });
  });

  it('gives no cursor when the page holds exactly what is left', async () => {
    const { read, load } = index(runs.slice(0, 2));
    expect(await collectRunPage({ start: 0, limit: 2, read, load })).toEqual({ ids: ['r9', 'r8'], gone: [] });
  });

  it('keeps only runs in the asked state, reading on past a chunk of others', async () => {
    const many: [string, 'running' | 'completed'][] = Array.from({ length: 250 }, (_, i) => [`c${i}`, 'completed']);
    const { read, load, reads } = index([...many, ['late', 'running'], ['later', 'running']]);
    const page = await collectRunPage({ start: 0, limit: 1, state: 'running', read, load });
    expect(page).toEqual({ ids: ['late'], next: 'late', gone: [] });
    expect(reads.length).toBeGreaterThan(1);
  });

  it('reports records gone so the index can drop them', async () => {
    const { read, load } = index([
      ['a', 'gone'],
      ['b', 'gone'],
    ]);
    expect(await collectRunPage({ start: 0, limit: 5, read, load })).toEqual({ ids: [], gone: ['a', 'b'] });
  });
});
