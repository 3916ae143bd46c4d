/**
 * Images are pinned by content, not by name: the production overlay runs rotor by digest (the
 * release step writes it), and the Dockerfile installs tini at one exact Debian version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PinImageError, pinImage, pinnedImage, PLACEHOLDER_DIGEST, PRODUCTION_KUSTOMIZATION } from '../../tools/release/pin-image';
import { renderKustomize, type Manifest } from '../support/kustomize';

const repoRoot = join(__dirname, '..', '..');
const DIGEST = `sha256:${'ab12'.repeat(16)}`;

/** Every container image of every pod template (Deployments, Jobs, …) and bare Pod in the manifests. */
function containerImages(manifests: Manifest[]): { where: string; image: string }[] {
  return manifests.flatMap((manifest) => {
    const spec = manifest['spec'] as { template?: { spec?: PodSpec } } & PodSpec;
    const pod = manifest.kind === 'Pod' ? spec : spec?.template?.spec;
    return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((container) => ({
      where: `${manifest.kind} ${manifest.metadata.name}/${container.name}`,
      image: container.image,
    }));
  });
}
type PodSpec = { containers?: { name: string; image: string }[]; initContainers?: { name: string; image: string }[] };

describe('image pinning', () => {
  it('runs every container of the production overlay by digest, never by a tag', () => {
    const images = containerImages(renderKustomize('k8s/overlays/production').manifests);
    expect(images.length).toBeGreaterThanOrEqual(4);
    expect(images.filter(({ image }) => !/^[^\s:@]+(:\d+)?(\/[^\s:@]+)*@sha256:[0-9a-f]{64}$/.test(image))).toEqual([]);
  });

  it('ships the placeholder digest, which the release gate refuses until a real digest is pinned', () => {
    const committed = readFileSync(PRODUCTION_KUSTOMIZATION, 'utf8');
    expect(pinnedImage(committed)).toEqual({ ok: false, reason: expect.stringContaining('placeholder digest') });
    const pinned = pinImage(committed, `registry.example.com/platform/rotor@${DIGEST}`);
    expect(pinnedImage(pinned)).toEqual({ ok: true, reference: `registry.example.com/platform/rotor@${DIGEST}` });
    // The rest of the file, comments included, is kept.
    expect(pinned.replace(DIGEST, PLACEHOLDER_DIGEST).replace('registry.example.com/platform/rotor', 'registry.example.com/rotor')).toBe(
      committed,
    );
  });

  it('lets the release step pin only a digest: a tag, a malformed digest or the placeholder is refused', () => {
    const committed = readFileSync(PRODUCTION_KUSTOMIZATION, 'utf8');
    for (const reference of [
      'registry.example.com/rotor:1.2.3',
      'registry.example.com/rotor:1.2.3@' + DIGEST,
      'registry.example.com/rotor@sha256:abc',
      `registry.example.com/rotor@${PLACEHOLDER_DIGEST}`,
    ]) {
      expect(() => pinImage(committed, reference)).toThrow(PinImageError);
    }
    const tagged = committed.replace(`digest: ${PLACEHOLDER_DIGEST}`, 'newTag: 1.2.3');
    expect(pinnedImage(tagged)).toEqual({ ok: false, reason: expect.stringContaining('newTag') });
  });

  it('installs tini at one exact Debian version in the image, and checks what was installed', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const version = /^ARG TINI_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
    expect(version).toMatch(/^\d+\.\d+\.\d+-\d+(\+b\d+)?$/);
    const installs = dockerfile.match(/apt-get install[^\n]*\btini\S*/g) ?? [];
    expect(installs).toEqual([expect.stringContaining('"tini=${TINI_VERSION}"')]);
    expect(dockerfile).toContain(`test "$(dpkg-query -W -f='\${Version}' tini)" = "\${TINI_VERSION}"`);
  });
});
