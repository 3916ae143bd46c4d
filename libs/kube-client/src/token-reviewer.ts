import type { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';

import type { TokenReview, TokenReviewer } from '@rotor/token-verification';

import { kubeClient } from './kube-config';

/**
 * Asks the API server whether it still accepts a service-account token (TokenReview), so a
 * token Kubernetes revoked (its pod deleted, its service account removed) is refused even
 * though its signature and expiry are fine, and as which user it knows the token.
 */
export class KubeTokenReviewer implements TokenReviewer {
  private readonly api: AuthenticationV1Api;

  constructor(
    config: KubeConfig,
    private readonly audiences: string[],
  ) {
    this.api = config.makeApiClient(kubeClient().AuthenticationV1Api);
  }

  async review(token: string): Promise<TokenReview> {
    const review = await this.api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: this.audiences } },
    });
    const username = review.status?.user?.username;
    return { authenticated: review.status?.authenticated === true, ...(username ? { username } : {}) };
  }
}
