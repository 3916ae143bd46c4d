/**
 * One admission.k8s.io/v1 AdmissionReview in, one out: the injector's whole decision, free of
 * HTTP. The API server sends the pod being created; the answer allows it with a base64 JSON
 * Patch, allows it untouched, or refuses it with a message that names the annotation.
 */
import { z } from 'zod';

import { readAnnotations } from './annotations';
import { planMutation, type AgentSettings, type PodLike } from './pod-mutation';

const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

const groupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });

/** The fields of an AdmissionReview request the injector reads; others are accepted and ignored. */
export const admissionReviewSchema = z.object({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string().min(1),
    kind: groupVersionKind,
    operation: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().optional(),
    object: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

export type AdmissionReview = z.infer<typeof admissionReviewSchema>;

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** The JSON Patch, base64 of its JSON text. */
  patch?: string;
  status?: { code: number; message: string };
}

export interface AdmissionReviewAnswer {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** What happened, for the metric and the log: never annotation values beyond names. */
export type AdmissionOutcome = 'injected' | 'unchanged' | 'not-requested' | 'refused';

export function review(reviewed: AdmissionReview, settings: AgentSettings): { answer: AdmissionReviewAnswer; outcome: AdmissionOutcome } {
  const { uid, kind, object } = reviewed.request;
  const answer = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewAnswer => ({
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: { uid, ...response },
  });
  // The webhook's rules send pods only; anything else (a misconfigured rule) passes untouched.
  if (kind.group !== '' || kind.kind !== 'Pod' || !object) return { answer: answer({ allowed: true }), outcome: 'not-requested' };

  const pod = object as PodLike;
  const reading = readAnnotations(pod.metadata?.annotations);
  switch (reading.kind) {
    case 'not-requested':
      return { answer: answer({ allowed: true }), outcome: 'not-requested' };
    case 'invalid':
      return {
        answer: answer({
          allowed: false,
          status: { code: 400, message: `rotor injector: annotation ${reading.annotation}: ${reading.reason}` },
        }),
        outcome: 'refused',
      };
    case 'inject': {
      const plan = planMutation(pod, reading.request, settings);
      if (plan.kind === 'conflict') {
        return { answer: answer({ allowed: false, status: { code: 400, message: `rotor injector: ${plan.reason}` } }), outcome: 'refused' };
      }
      if (plan.operations.length === 0) return { answer: answer({ allowed: true }), outcome: 'unchanged' };
      const patch = Buffer.from(JSON.stringify(plan.operations)).toString('base64');
      return { answer: answer({ allowed: true, patchType: 'JSONPatch', patch }), outcome: 'injected' };
    }
  }
}
