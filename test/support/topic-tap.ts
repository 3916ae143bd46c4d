import { ALL_TOPICS } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { kafkaFromEnv } from '../../tools/security/env-clients';

export interface TappedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/** Every message on every rotor topic since `since`: what a canary check must search. */
export async function readRotorTopicsSince(since: Date): Promise<TappedMessage[]> {
  const kafka = kafkaFromEnv('rotor-test-tap');
  const messages: TappedMessage[] = [];
  for (const topic of ALL_TOPICS) {
    await readTopicRange(kafka, {
      topic,
      fromTime: since,
      onMessage: (message, partition) => {
        messages.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
        });
      },
    });
  }
  return messages;
}
