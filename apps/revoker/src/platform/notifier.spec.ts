import { Notifier } from './notifier';

describe('Notifier', () => {
  it('awaits each listener in order before emit resolves, and only those of the event emitted', async () => {
    const notifier = new Notifier<{ revoked: { leaseId: string }; retired: { secret: string } }>();
    const seen: string[] = [];
    notifier.on('revoked', async ({ leaseId }) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen.push(`first ${leaseId}`);
    });
    notifier.on('revoked', async ({ leaseId }) => void seen.push(`second ${leaseId}`));
    notifier.on('retired', async ({ secret }) => void seen.push(`retired ${secret}`));
    await notifier.emit('revoked', { leaseId: 'l-1' });
    expect(seen).toEqual(['first l-1', 'second l-1']);
  });

  it("makes a listener's failure the emitter's, so the step that emitted is retried", async () => {
    const notifier = new Notifier<{ revoked: { leaseId: string } }>();
    notifier.on('revoked', () => Promise.reject(new Error('READONLY')));
    await expect(notifier.emit('revoked', { leaseId: 'l-1' })).rejects.toThrow('READONLY');
  });
});
