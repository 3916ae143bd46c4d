import { randomUUID } from 'node:crypto';

import { REPEAT_WINDOW } from '@rotor/audit-chain';
import { AuditRecordSchema, type AuditRecord } from '@rotor/contracts';

import type { CliContext } from '../context';
import { formatRecord, renderTable } from '../output';

import { parseFilters } from './audit-filter';
import { auditLogSettings, cliKafka, parseLogPoint } from './audit-reader';

/** `rotor audit tail [--from TIME] [--filter f=v]`: follows the audit topic live until interrupted. */
export interface AuditTailOptions {
  from?: string;
  filter?: string[];
}

export async function auditTailCommand(context: CliContext, flags: AuditTailOptions, signal?: AbortSignal): Promise<void> {
  const settings = auditLogSettings();
  const filter = parseFilters(flags.filter ?? [], settings.auditKey);
  const from = flags.from !== undefined ? parseLogPoint(flags.from, 'from') : undefined;
  const kafka = await cliKafka(settings.brokers, settings.kafkaSecurity, settings.kafkaNamespace);
  const groupId = `rotor-cli-tail-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const admin = kafka.admin();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  await Promise.all([consumer.connect(), admin.connect()]);
  try {
    await consumer.subscribe({ topics: [settings.topic], fromBeginning: false });
    if (!context.json) process.stdout.write(renderTable(['recorded', 'type', 'subject', 'chain', 'seq'], []).split('\n')[0] + '\n');
    const shown = new ShownRecords();
    await consumer.run({
      eachMessage: async ({ message }) => {
        const parsed = AuditRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
        if (!parsed.success || !filter(parsed.data)) return;
        const record = parsed.data;
        if (shown.isRepeat(record)) return; // a run the auditor appended again after a crash
        const subject = typeof record.event['subject'] === 'string' ? record.event['subject'] : '';
        process.stdout.write(
          context.json
            ? formatRecord(context, record)
            : `${record.recordedAt}  ${record.eventType}  ${subject}  ${record.chain}  ${record.seq}\n`,
        );
        await Promise.resolve();
      },
    });
    if (from) {
      const starts =
        'time' in from
          ? await admin.fetchTopicOffsetsByTimestamp(settings.topic, from.time.getTime())
          : (await admin.fetchTopicOffsets(settings.topic)).map(({ partition }) => ({ partition, offset: String(from.offset) }));
      for (const { partition, offset } of starts)
        if (Number(offset) >= 0) consumer.seek({ topic: settings.topic, partition, offset: String(offset) });
    }
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    process.off('SIGINT', onSignal);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * What the tail has printed, per chain, for the last REPEAT_WINDOW seqs: a record identical to
 * one already printed (same chain, seq and hash) is a repeat, not news. A different record at
 * an old seq is printed: only `audit replay --verify` can say whether it breaks the chain.
 */
export class ShownRecords {
  private readonly chains = new Map<string, string[]>();

  isRepeat(record: Pick<AuditRecord, 'chain' | 'seq' | 'hash'>): boolean {
    let recent = this.chains.get(record.chain);
    if (!recent) this.chains.set(record.chain, (recent = []));
    if (recent[record.seq % REPEAT_WINDOW] === `${record.seq}:${record.hash}`) return true;
    recent[record.seq % REPEAT_WINDOW] = `${record.seq}:${record.hash}`;
    return false;
  }
}
