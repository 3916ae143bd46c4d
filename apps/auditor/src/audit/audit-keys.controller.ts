import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';

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
  keySet() {
    return this.keys.keyring.jwks();
  }
}
