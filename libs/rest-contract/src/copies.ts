import { z } from 'zod';

import { named } from './registry';

const FingerprintFormSchema = z.enum(['raw', 'base64']);
const count = z.number().int().min(0);
const SecretVersionRef = z.object({ secret: z.string(), version: z.number().int() });

/** `POST /v1/copy-scan/findings`: what `rotor scan --report` posts, copies `rotor scan --report` found in files or CI variables (where, never the value). */
export const ReportedCopiesSchema = named(
  'ReportedCopies',
  z.object({
    findings: z
      .array(
        z.object({
          secret: z.string().min(1).max(63),
          version: z.number().int().positive(),
          form: FingerprintFormSchema,
          kind: z.enum(['file', 'ci-variable']),
          path: z.string().min(1).max(4096),
          line: z.number().int().positive(),
        }),
      )
      .min(1)
      .max(1000),
  }),
  'Copies found outside the cluster',
);
export type ReportedCopies = z.infer<typeof ReportedCopiesSchema>;

export const ReportedCopiesReceiptSchema = named(
  'ReportedCopiesReceipt',
  z.object({ published: count }),
  'How many findings were published',
);
export type ReportedCopiesReceipt = z.infer<typeof ReportedCopiesReceiptSchema>;

/** `POST /v1/copy-scan`: the watched namespaces scanned now for manual copies of managed values. */
export const CopyScanReportSchema = named(
  'CopyScanReport',
  z.object({
    namespaces: z.array(z.string()),
    scannedObjects: count,
    /** Objects labelled as rotor's: its own copies, checked by the drift scan instead. */
    skippedManaged: count,
    versions: count,
    unfingerprinted: z.array(SecretVersionRef),
    findings: z.array(
      z.object({
        secret: z.string(),
        version: z.number().int(),
        form: FingerprintFormSchema,
        location: z.object({
          kind: z.enum(['kubernetes-secret', 'kubernetes-configmap']),
          namespace: z.string(),
          name: z.string(),
          key: z.string(),
        }),
        /** The key (or its object) was removed because the catalog says `copies: remove`. */
        removed: z.boolean(),
      }),
    ),
    errors: z.array(z.object({ target: z.string(), reason: z.string() })),
    durationMs: z.number(),
  }),
  'What a copy scan found, and removed',
);
export type CopyScanReport = z.infer<typeof CopyScanReportSchema>;

/** `POST /v1/copy-scan/fingerprints`: the keyed hashes `rotor scan` compares text with. Never a value. */
export const CopyFingerprintSetSchema = named(
  'CopyFingerprintSet',
  z.object({
    /** The scan key, hex: the HMAC key of the fingerprints (it reveals no value). */
    scanKey: z.string(),
    fingerprints: z.array(
      z.object({
        secret: z.string(),
        version: z.number().int(),
        form: FingerprintFormSchema,
        /** Bytes of the text that was hashed. */
        length: count,
        /** HMAC-SHA256(scan key, text), hex. */
        hmac: z.string(),
        /** Low bits of a keyed rolling hash; absent for low-entropy values. */
        prefilter: z.number().int().optional(),
      }),
    ),
    /** Versions in the window with no fingerprint under the current key. */
    unfingerprinted: z.array(SecretVersionRef),
  }),
  'Fingerprints of the live and recently retired versions',
);
export type CopyFingerprintSet = z.infer<typeof CopyFingerprintSetSchema>;
