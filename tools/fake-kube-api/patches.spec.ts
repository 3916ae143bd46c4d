import { applyJsonPatch, applyMergePatch, PatchError } from './patches';

describe('merge patch (RFC 7386)', () => {
  it('merges objects, deletes on null and replaces everything else', () => {
    const target = { metadata: { labels: { a: '1', b: '2' } }, data: { k: 'dg==' }, list: [1, 2] };
    expect(applyMergePatch(target, { metadata: { labels: { b: null, c: '3' } }, data: { k2: 'eA==' }, list: [3] })).toEqual({
      metadata: { labels: { a: '1', c: '3' } },
      data: { k: 'dg==', k2: 'eA==' },
      list: [3],
    });
    expect(target.metadata.labels).toEqual({ a: '1', b: '2' });
  });
});

describe('JSON patch (RFC 6902)', () => {
  const target = { metadata: { labels: { 'rotor.dev/version': '3' } }, data: { value: 'dg==' }, list: ['a'] };

  it('adds, replaces, removes, moves, copies, escaping ~1 and ~0', () => {
    expect(
      applyJsonPatch(target, [
        { op: 'replace', path: '/metadata/labels/rotor.dev~1version', value: '4' },
        { op: 'add', path: '/data/other', value: 'eA==' },
        { op: 'remove', path: '/data/value' },
        { op: 'add', path: '/list/-', value: 'b' },
        { op: 'copy', from: '/list/0', path: '/list/0' },
        { op: 'move', from: '/data/other', path: '/data/moved' },
        { op: 'test', path: '/list', value: ['a', 'a', 'b'] },
      ]),
    ).toEqual({ metadata: { labels: { 'rotor.dev/version': '4' } }, data: { moved: 'eA==' }, list: ['a', 'a', 'b'] });
    expect(target.data).toEqual({ value: 'dg==' });
  });

  it('fails on a failed test, a missing path to replace or remove, and a body that is not a list', () => {
    expect(() => applyJsonPatch(target, [{ op: 'test', path: '/data/value', value: 'x' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(target, [{ op: 'replace', path: '/data/missing', value: 'x' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(target, [{ op: 'remove', path: '/nope/x' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(target, { op: 'add' })).toThrow(PatchError);
  });
});
