/**
 * The release step that pins rotor's images in the production overlay by digest (a tag can be
 * moved to other content; a digest names exactly the bytes that were built, scanned and signed):
 *
 *   node -r @swc-node/register tools/release/pin-image.ts registry.example.com/rotor@sha256:<64 hex>
 *   node -r @swc-node/register tools/release/pin-image.ts --image rotor-agent registry.example.com/rotor-agent@sha256:<64 hex>
 *   node -r @swc-node/register tools/release/pin-image.ts --check      # exit 1 unless every image has a real digest
 *
 * `--image` names the overlay's `images:` entry (default `rotor`, the services' image; `rotor-agent`
 * is the agent's, which the injector puts into pods). The committed overlay holds the all-zero
 * placeholder digest, which matches no image: applied before this step, the Deployments (and the
 * injected agents) fail to pull instead of running whatever a tag points at.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

export const PRODUCTION_KUSTOMIZATION = join(__dirname, '..', '..', 'k8s', 'overlays', 'production', 'kustomization.yaml');
export const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;
/** The services' image; `rotor-agent` is the other entry. */
export const ROTOR_IMAGE = 'rotor';
/** `<registry>/<path>@sha256:<64 hex>`, no tag. */
const IMAGE_BY_DIGEST =
  /^((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)@(sha256:[0-9a-f]{64})$/;

export class PinImageError extends Error {}

/** The kustomization text with the `image` entry set to `reference` (name@sha256:digest), comments kept. */
export function pinImage(kustomization: string, reference: string, image = ROTOR_IMAGE): string {
  const match = IMAGE_BY_DIGEST.exec(reference);
  if (!match) throw new PinImageError(`${reference}: expected <registry>/<name>@sha256:<64 hex digits> (a digest, never a tag)`);
  const [, name, digest] = match;
  if (digest === PLACEHOLDER_DIGEST) throw new PinImageError('the all-zero digest is the placeholder, not an image');
  const entry = imageEntry(parseDocument(kustomization), image);
  if (entry.has('newTag')) throw new PinImageError(`the ${image} image entry has a newTag: replace it with digest: first`);
  // Only the two values are replaced, in place, so the file's comments and layout stay as they are.
  const edits = (['digest', 'newName'] as const)
    .map((field) => ({ node: entry.get(field, true), value: field === 'digest' ? digest! : name! }))
    .map(({ node, value }) => {
      if (!isScalar(node) || !node.range) throw new PinImageError(`the ${image} image entry needs newName: and digest: values`);
      return { start: node.range[0], end: node.range[1], value };
    })
    .sort((a, b) => b.start - a.start);
  return edits.reduce((text, edit) => text.slice(0, edit.start) + edit.value + text.slice(edit.end), kustomization);
}

export type Pinned = { ok: true; reference: string } | { ok: false; reason: string };

/** The pinned reference of the `image` entry, or why the overlay is not ready to deploy. */
export function pinnedImage(kustomization: string, image = ROTOR_IMAGE): Pinned {
  return pinnedEntry(imageEntry(parseDocument(kustomization), image), image);
}

/** Every entry of `images:` by name: a deploy needs each of them pinned. */
export function pinnedImages(kustomization: string): Record<string, Pinned> {
  return Object.fromEntries(
    imagesOf(parseDocument(kustomization)).items.flatMap((item) => {
      const name = isMap(item) ? item.get('name') : undefined;
      return isMap(item) && typeof name === 'string' ? [[name, pinnedEntry(item, name)]] : [];
    }),
  );
}

function pinnedEntry(entry: YAMLMap, image: string): Pinned {
  const name = entry.get('newName');
  const digest = entry.get('digest');
  if (entry.has('newTag')) return { ok: false, reason: `the ${image} image has a newTag: pin it by digest only` };
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) return { ok: false, reason: `the ${image} image has no digest` };
  if (digest === PLACEHOLDER_DIGEST)
    return { ok: false, reason: `the ${image} image still has the placeholder digest: run the release step` };
  return { ok: true, reference: `${String(name)}@${digest}` };
}

function imagesOf(document: ReturnType<typeof parseDocument>) {
  const images: unknown = document.get('images');
  if (!isSeq(images)) throw new PinImageError('the kustomization has no images: list');
  return images;
}

function imageEntry(document: ReturnType<typeof parseDocument>, image: string): YAMLMap {
  const entry = imagesOf(document).items.find((item) => isMap(item) && item.get('name') === image);
  if (!isMap(entry)) throw new PinImageError(`the kustomization has no images entry named ${image}`);
  return entry;
}

if (require.main === module) {
  try {
    const { values, positionals } = parseArgs({
      options: { image: { type: 'string', default: ROTOR_IMAGE }, check: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    if (values.check) {
      const [file = PRODUCTION_KUSTOMIZATION] = positionals;
      const pinned = Object.entries(pinnedImages(readFileSync(file, 'utf8')));
      if (pinned.length === 0) throw new PinImageError('the kustomization has no images to check');
      const reasons = pinned.flatMap(([, result]) => (result.ok ? [] : [result.reason]));
      if (reasons.length > 0) throw new PinImageError(reasons.join('; '));
      for (const [image, result] of pinned) if (result.ok) process.stdout.write(`${image}: ${result.reference}\n`);
    } else if (positionals[0]) {
      const [reference, file = PRODUCTION_KUSTOMIZATION] = positionals;
      writeFileSync(file, pinImage(readFileSync(file, 'utf8'), reference, values.image));
      process.stdout.write(`pinned ${values.image} to ${reference} in ${file}\n`);
    } else {
      throw new PinImageError(
        'usage: pin-image.ts [--image rotor|rotor-agent] <registry>/<name>@sha256:<digest> | --check [kustomization.yaml]',
      );
    }
  } catch (error) {
    if (!(error instanceof PinImageError) && (error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw error;
    process.stderr.write(`pin-image: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
