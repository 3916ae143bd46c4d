/**
 * Images are pinned by content, not by name: the production overlay runs rotor, and has the
 * injector put the agent into pods, by digest (the release step writes both), and the
 * Dockerfile installs tini at one exact Debian version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  PinImageError,
  pinImage,
  pinnedImage,
  pinnedImages,
  PLACEHOLDER_DIGEST,
  PRODUCTION_KUSTOMIZATION,
} from '../../tools/release/pin-image';
import { renderKustomize, type Manifest } from '../support/kustomize';

const repoRoot = join(__dirname, '..', '..');
const DIGEST = `sha256:${'ab12'.repeat(16)}`;
const AGENT_DIGEST = `sha256:${'cd34'.repeat(16)}`;
const BY_DIGEST = /^[^\s:@]+(:\d+)?(\/[^\s:@]+)*@sha256:[0-9a-f]{64}$/;

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
  it('runs every container of the production overlay by digest, never by a tag, and injects the agent by digest too', () => {
    const { manifests } = renderKustomize('k8s/overlays/production');
    const images = containerImages(manifests);
    expect(images.length).toBeGreaterThanOrEqual(4);
    expect(images.filter(({ image }) => !BY_DIGEST.test(image))).toEqual([]);
    // The agent's image is no container of the overlay: the injector's ROTOR_AGENT_IMAGE names it.
    const injector = manifests.find((manifest) => manifest.kind === 'Deployment' && manifest.metadata.name === 'injector');
    const env = (injector?.['spec'] as { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } })?.template
      .spec.containers[0]?.env;
    const agentImage = env?.find((variable) => variable.name === 'ROTOR_AGENT_IMAGE')?.value;
    expect(agentImage).toMatch(BY_DIGEST);
    expect(agentImage).toMatch(/\/rotor-agent@/);
  });

  it('ships the placeholder digest for both images, which the release gate refuses until a real digest is pinned for each', () => {
    const committed = readFileSync(PRODUCTION_KUSTOMIZATION, 'utf8');
    expect(pinnedImage(committed)).toEqual({ ok: false, reason: expect.stringContaining('placeholder digest') });
    expect(pinnedImages(committed)).toEqual({
      rotor: { ok: false, reason: expect.stringContaining('placeholder digest') },
      'rotor-agent': { ok: false, reason: expect.stringContaining('placeholder digest') },
    });
    const rotorOnly = pinImage(committed, `registry.example.com/platform/rotor@${DIGEST}`);
    expect(pinnedImages(rotorOnly)).toEqual({
      rotor: { ok: true, reference: `registry.example.com/platform/rotor@${DIGEST}` },
      'rotor-agent': { ok: false, reason: expect.stringContaining('placeholder digest') },
    });
    const pinned = pinImage(rotorOnly, `registry.example.com/platform/rotor-agent@${AGENT_DIGEST}`, 'rotor-agent');
    expect(pinnedImages(pinned)).toEqual({
      rotor: { ok: true, reference: `registry.example.com/platform/rotor@${DIGEST}` },
      'rotor-agent': { ok: true, reference: `registry.example.com/platform/rotor-agent@${AGENT_DIGEST}` },
    });
    // The rest of the file, comments included, is kept.
    expect(
      pinned
        .replace(DIGEST, PLACEHOLDER_DIGEST)
        .replace(AGENT_DIGEST, PLACEHOLDER_DIGEST)
        .replace('registry.example.com/platform/rotor-agent', 'registry.example.com/rotor-agent')
        .replace('registry.example.com/platform/rotor', 'registry.example.com/rotor'),
    ).toBe(committed);
  });

  it('lets the release step pin only a digest: a tag, a malformed digest or the placeholder is refused', () => {
    const committed = readFileSync(PRODUCTION_KUSTOMIZATION, 'utf8');
    for (const image of ['rotor', 'rotor-agent']) {
      for (const reference of [
        `registry.example.com/${image}:1.2.3`,
        `registry.example.com/${image}:1.2.3@${DIGEST}`,
        `registry.example.com/${image}@sha256:abc`,
        `registry.example.com/${image}@${PLACEHOLDER_DIGEST}`,
      ]) {
        expect(() => pinImage(committed, reference, image)).toThrow(PinImageError);
      }
    }
    expect(() => pinImage(committed, `registry.example.com/rotor-agents@${DIGEST}`, 'rotor-agents')).toThrow(
      'no images entry named rotor-agents',
    );
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
