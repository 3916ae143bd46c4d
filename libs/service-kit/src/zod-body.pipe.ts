import { Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

import { DomainError } from '@rotor/errors';

/** Validates a request body against a zod schema; a failure is a 400 naming the first bad field. */
@Injectable()
export class ZodBodyPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || undefined;
    throw new DomainError('invalid', 'invalid-body', field ? `${field}: ${issue?.message}` : (issue?.message ?? 'invalid body'), { field });
  }
}
