import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';

import type { TokenReviewer } from '@rotor/identity';

/**
 * Asks the API server whether it still accepts a service-account token (TokenReview), so a
 * token Kubernetes revoked (its pod deleted, its service account removed) is refused even
 * though its signature and expiry are fine.
 */
export class KubeTokenReviewer implements TokenReviewer {
  private readonly api: AuthenticationV1Api;

  constructor(
    config: KubeConfig,
    private readonly audiences: string[],
  ) {
    this.api = config.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string): Promise<boolean> {
    const review = await this.api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: this.audiences } },
    });
    return review.status?.authenticated === true;
  }
}
