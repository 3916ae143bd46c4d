import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Kafka } from 'kafkajs';

import { DOMAIN_TOPICS } from '@rotor/contracts';

import { Random } from './random';
import { KAFKA_NODES, REDIS_CLUSTER_ENV, REPLICAS, ROOT, postgresPids, stackScript, type ChaosStack } from './stack';

export type FaultKind =
  | 'kill-replica'
  | 'kill-kafka-leader'
  | 'kill-kafka-controller'
  | 'kill-redis-master'
  | 'pause-postgres'
  | 'pause-gsm'
  | 'cut-issuer-network'
  | 'malformed-messages';

/** A fault as it happened: from the moment it was applied to the moment everything was back. */
export interface FaultWindow {
  kind: FaultKind;
  target: string;
  start: number;
  end: number;
  note?: string;
}

/** What was injected on the input topics: every dead letter must be one of these. */
export interface InjectedMessage {
  topic: string;
  marker: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two lanes that run side by side: the engines under rotor, and rotor's own processes and inputs. */
const LANES: readonly (readonly FaultKind[])[] = [
  ['kill-kafka-leader', 'kill-redis-master', 'pause-postgres', 'kill-kafka-controller', 'pause-gsm'],
  ['kill-replica', 'malformed-messages', 'cut-issuer-network', 'kill-replica', 'malformed-messages'],
];

/**
 * Runs a seeded fault schedule against a chaos stack: each lane takes its faults in a seeded order,
 * one at a time, with seeded pauses between them, until the phase ends. Each fault is undone
 * (process restarted, signal continued, link healed) before its lane moves on, and every window
 * is printed and recorded.
 */
export class FaultSchedule {
  readonly windows: FaultWindow[] = [];
  readonly injected: InjectedMessage[] = [];
  private stopping = false;
  private readonly undo = new Set<() => void>();

  /** One seeded stream per lane: the schedule does not depend on how the load or the other lane drew. */
  private readonly lanes: Random[];

  constructor(
    private readonly stack: ChaosStack,
    private readonly kafka: Kafka,
    seed: number,
    private readonly progress: (line: string) => void,
  ) {
    this.lanes = LANES.map((_kinds, lane) => new Random(seed * 31 + lane + 1));
  }

  /** Runs until `until` (epoch ms); a fault in progress is always finished. */
  async run(until: number): Promise<void> {
    await Promise.all(LANES.map((lane, index) => this.runLane(lane, index, until)));
  }

  /** Undoes whatever is still applied (an interrupted run must not leave PostgreSQL stopped). */
  heal(): void {
    this.stopping = true;
    for (const undo of [...this.undo]) undo();
  }

  private async runLane(kinds: readonly FaultKind[], lane: number, until: number): Promise<void> {
    const random = this.lanes[lane]!;
    let order = random.shuffle(kinds);
    await sleep(random.between(2_000, 8_000));
    while (!this.stopping && Date.now() < until - 25_000) {
      if (order.length === 0) order = random.shuffle(kinds);
      const kind = order.shift()!;
      await this.apply(kind, lane, random);
      await sleep(random.between(5_000, 15_000));
    }
  }

  private async apply(kind: FaultKind, lane: number, random: Random): Promise<void> {
    const start = Date.now();
    const elapsed = () => `${((Date.now() - start) / 1000).toFixed(1)} s`;
    const say = (text: string) => this.progress(`[fault${lane}] ${new Date().toISOString().slice(11, 19)} ${kind}: ${text}`);
    const record = (target: string, note?: string) => {
      this.windows.push({ kind, target, start, end: Date.now(), ...(note ? { note } : {}) });
      say(`${target} recovered after ${elapsed()}${note ? ` (${note})` : ''}`);
    };
    try {
      switch (kind) {
        case 'kill-replica': {
          const { id } = random.pick(REPLICAS);
          const replica = this.stack.replica(id);
          say(`SIGKILL ${id}`);
          await replica.kill();
          await sleep(random.between(3_000, 10_000));
          await this.stack.restart(id);
          return record(id);
        }
        case 'kill-kafka-leader':
        case 'kill-kafka-controller': {
          const node = kind === 'kill-kafka-leader' ? await this.partitionLeader(random) : activeController();
          say(
            `SIGKILL Kafka node ${node}${kind === 'kill-kafka-leader' ? ' (leader of lease.issued partition 0)' : ' (the active KRaft controller)'}`,
          );
          await stackScript('kafka-cluster.sh', ['kill', String(node)]);
          await sleep(20_000);
          say(`restarting Kafka node ${node}`);
          await stackScript('kafka-cluster.sh', ['start', String(node)]);
          return record(`kafka node ${node}`);
        }
        case 'kill-redis-master': {
          const port = await this.redisMaster(random);
          say(`SIGKILL Redis master ${port} (its replica is promoted after cluster-node-timeout)`);
          await stackScript('redis-cluster.sh', ['kill', String(port)], REDIS_CLUSTER_ENV);
          await sleep(12_000);
          say(`restarting Redis node ${port} (it rejoins as a replica)`);
          await stackScript('redis-cluster.sh', ['up'], REDIS_CLUSTER_ENV);
          return record(`redis ${port}`);
        }
        case 'pause-postgres': {
          const pids = postgresPids();
          const resume = () => pids.forEach((pid) => signal(pid, 'SIGCONT'));
          say(`SIGSTOP PostgreSQL (${pids.length} processes) for 20 s`);
          this.undo.add(resume);
          pids.forEach((pid) => signal(pid, 'SIGSTOP'));
          await sleep(20_000);
          resume();
          this.undo.delete(resume);
          return record('postgresql');
        }
        case 'pause-gsm': {
          const pid = this.stack.gsmPid!;
          const resume = () => signal(pid, 'SIGCONT');
          say('SIGSTOP the GSM emulator for 30 s');
          this.undo.add(resume);
          signal(pid, 'SIGSTOP');
          await sleep(30_000);
          resume();
          this.undo.delete(resume);
          return record('gsm');
        }
        case 'cut-issuer-network': {
          const switches = Object.values(this.stack.switches);
          const heal = () => switches.forEach((relay) => relay.heal());
          say("cut the issuer's links to PostgreSQL, the redis-acl backend and GSM for 30 s");
          this.undo.add(heal);
          switches.forEach((relay) => relay.cut());
          await sleep(30_000);
          heal();
          this.undo.delete(heal);
          return record('issuer network');
        }
        case 'malformed-messages': {
          // A Kafka node may be down meanwhile (the other lane): try again as a client would.
          let count = 0;
          for (let attempt = 1; ; attempt++) {
            try {
              count = await this.injectMalformed();
              break;
            } catch (error) {
              if (attempt >= 5) throw error;
              await sleep(3_000);
            }
          }
          return record('every domain topic', `${count} malformed messages`);
        }
      }
    } catch (error) {
      say(`FAILED to apply or undo: ${(error as Error).message.split('\n')[0]}`);
      this.windows.push({ kind, target: 'failed', start, end: Date.now(), note: (error as Error).message.split('\n')[0] });
    }
  }

  /** Garbage on every topic rotor consumes: not JSON, JSON that is no event, and an event with a bad body. */
  private async injectMalformed(): Promise<number> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const messages = DOMAIN_TOPICS.flatMap((topic) => {
        const marker = () => `chaos-malformed-${randomUUID()}`;
        const shapes = [
          (m: string) => `{not json ${m}`,
          (m: string) => JSON.stringify({ hello: m }),
          (m: string) =>
            JSON.stringify({
              specversion: '1.0',
              id: m,
              type: topic,
              source: '/chaos',
              time: new Date().toISOString(),
              data: { marker: m },
            }),
        ];
        return shapes.map((shape) => {
          const m = marker();
          this.injected.push({ topic, marker: m });
          return { topic, key: m, value: shape(m) };
        });
      });
      for (const topic of DOMAIN_TOPICS) {
        await producer.send({
          topic,
          acks: -1,
          messages: messages.filter((message) => message.topic === topic).map(({ key, value }) => ({ key, value })),
        });
      }
      return messages.length;
    } finally {
      await producer.disconnect();
    }
  }

  private async partitionLeader(random: Random): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: ['rotor.lease.issued.v1'] });
      const leader = topics[0]?.partitions.find((partition) => partition.partitionId === 0)?.leader;
      return leader && leader > 0 ? leader : random.pick(KAFKA_NODES);
    } finally {
      await admin.disconnect();
    }
  }

  private async redisMaster(random: Random): Promise<number> {
    const redis = await this.stack.redisAdmin();
    try {
      // Sorted: the cluster's order of nodes is its own, the pick must be the seed's.
      return random.pick(
        redis
          .nodes('master')
          .map((node) => node.options.port!)
          .sort(),
      );
    } finally {
      redis.disconnect();
    }
  }
}

/** The KRaft leader (active controller), from the quorum state the nodes persist: the newest epoch wins. */
export function activeController(): number {
  let best = { leaderId: -1, leaderEpoch: -1 };
  for (const node of KAFKA_NODES) {
    const file = join(ROOT, '.rotor', 'kafka-cluster', `node${node}`, 'data', '__cluster_metadata-0', 'quorum-state');
    if (!existsSync(file)) continue;
    const state = JSON.parse(readFileSync(file, 'utf8')) as { leaderId: number; leaderEpoch: number };
    if (state.leaderEpoch > best.leaderEpoch && state.leaderId > 0) best = state;
  }
  if (best.leaderId < 0) throw new Error('no KRaft quorum state found under .rotor/kafka-cluster');
  return best.leaderId;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}
