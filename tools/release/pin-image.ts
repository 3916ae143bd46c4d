/**
 * The release step that pins rotor's image in the production overlay by digest (a tag can be
 * moved to other content; a digest names exactly the bytes that were built, scanned and signed):
 *
 *   node -r @swc-node/register tools/release/pin-image.ts registry.example.com/rotor@sha256:<64 hex>
 *   node -r @swc-node/register tools/release/pin-image.ts --check      # exit 1 unless a real digest is pinned
 *
 * The committed overlay holds the all-zero placeholder digest, which matches no image: applied
 * before this step, the Deployments fail to pull instead of running whatever a tag points at.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

export const PRODUCTION_KUSTOMIZATION = join(__dirname, '..', '..', 'k8s', 'overlays', 'production', 'kustomization.yaml');
export const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;
/** `<registry>/<path>@sha256:<64 hex>`, no tag. */
const IMAGE_BY_DIGEST =
  /^((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)@(sha256:[0-9a-f]{64})$/;

export class PinImageError extends Error {}

/** The kustomization text with the `rotor` image set to `reference` (name@sha256:digest), comments kept. */
export function pinImage(kustomization: string, reference: string): string {
  const match = IMAGE_BY_DIGEST.exec(reference);
  if (!match) throw new PinImageError(`${reference}: expected <registry>/<name>@sha256:<64 hex digits> (a digest, never a tag)`);
  const [, name, digest] = match;
  if (digest === PLACEHOLDER_DIGEST) throw new PinImageError('the all-zero digest is the placeholder, not an image');
  const entry = rotorImageEntry(parseDocument(kustomization));
  if (entry.has('newTag')) throw new PinImageError('the rotor image entry has a newTag: replace it with digest: first');
  // Only the two values are replaced, in place, so the file's comments and layout stay as they are.
  const edits = (['digest', 'newName'] as const)
    .map((field) => ({ node: entry.get(field, true), value: field === 'digest' ? digest! : name! }))
    .map(({ node, value }) => {
      if (!isScalar(node) || !node.range) throw new PinImageError('the rotor image entry needs newName: and digest: values');
      return { start: node.range[0], end: node.range[1], value };
    })
    .sort((a, b) => b.start - a.start);
  return edits.reduce((text, edit) => text.slice(0, edit.start) + edit.value + text.slice(edit.end), kustomization);
}

/** The pinned reference, or why the overlay is not ready to deploy. */
export function pinnedImage(kustomization: string): { ok: true; reference: string } | { ok: false; reason: string } {
  const entry = rotorImageEntry(parseDocument(kustomization));
  const name = entry.get('newName');
  const digest = entry.get('digest');
  if (entry.has('newTag')) return { ok: false, reason: 'the rotor image has a newTag: pin it by digest only' };
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) return { ok: false, reason: 'the rotor image has no digest' };
  if (digest === PLACEHOLDER_DIGEST) return { ok: false, reason: 'the rotor image still has the placeholder digest: run the release step' };
  return { ok: true, reference: `${String(name)}@${digest}` };
}

function rotorImageEntry(document: ReturnType<typeof parseDocument>): YAMLMap {
  const images: unknown = document.get('images');
  if (!isSeq(images)) throw new PinImageError('the kustomization has no images: list');
  const entry = images.items.find((item) => isMap(item) && item.get('name') === 'rotor');
  if (!isMap(entry)) throw new PinImageError('the kustomization has no images entry named rotor');
  return entry;
}

if (require.main === module) {
  const [argument, file = PRODUCTION_KUSTOMIZATION] = process.argv.slice(2);
  try {
    const text = readFileSync(file, 'utf8');
    if (argument === '--check') {
      const pinned = pinnedImage(text);
      if (!pinned.ok) throw new PinImageError(pinned.reason);
      process.stdout.write(`${pinned.reference}\n`);
    } else if (argument) {
      writeFileSync(file, pinImage(text, argument));
      process.stdout.write(`pinned ${argument} in ${file}\n`);
    } else {
      throw new PinImageError('usage: pin-image.ts <registry>/<name>@sha256:<digest> | --check [kustomization.yaml]');
    }
  } catch (error) {
    if (!(error instanceof PinImageError)) throw error;
    process.stderr.write(`pin-image: ${error.message}\n`);
    process.exit(1);
  }
}
