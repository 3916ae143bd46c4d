import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';

import { AuditKeySetSchema, type AuditKeySet } from '@rotor/rest-contract';
import { Answers } from '@rotor/service-kit';

import { AuditSigningKeys } from './audit-signing-keys';

/**
 * The public keys that verify the audit checkpoints, as a JWKS document. Public on purpose: a
 * verifier needs nothing else (`rotor audit keys --out keys.json`, then `--public-key keys.json`).
 */
@ApiTags('audit')
@Controller('v1/audit')
export class AuditKeysController {
  constructor(private readonly keys: AuditSigningKeys) {}

  @Get('keys')
  @Answers(200, AuditKeySetSchema, 'the checkpoint verification keys (RFC 7517 JWK set)')
  keySet(): AuditKeySet {
    return this.keys.keyring.jwks();
  }
}
