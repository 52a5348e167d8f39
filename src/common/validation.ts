import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { compiledCheck } from './compiled-validation';
import { AppError } from './errors';
import { findUnsafeKey } from './safe-json';

export interface FieldProblem {
  field: string;
  problems: string[];
}

/** Flattens class-validator's nested errors into `[{field: 'a.b', problems: [...]}]`. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

export function validationFailed(errors: ValidationError[]): AppError {
  const details = flattenValidationErrors(errors);
  const summary = details.map((d) => d.problems.join('; ')).join('; ') || 'invalid input';
  return new AppError('validation_failed', summary, details);
}

/**
 * The one validation pipe, for REST and socket.io alike: bodies must be JSON objects free of
 * prototype-pollution keys (checked before class-transformer could act on them), unknown fields
 * are rejected, types converted only where the DTO says so, nested DTOs validated.
 */
export class SafeValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'custom') return value; // @ConnectedSocket(), @CurrentPrincipal(), ...
    const dto = metadata.type === 'body' && metadata.metatype !== Object ? metadata.metatype : null;
    if (dto) {
      // No body at all (e.g. PUT with nothing to say) is an empty object: the DTO decides.
      if (value === undefined) value = {};
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new AppError('validation_failed', 'payload must be a JSON object');
      }
    }
    const unsafe = findUnsafeKey(value);
    if (unsafe) {
      throw new AppError('validation_failed', `"${unsafe}" holds a forbidden key or character`, [
        { field: unsafe, problems: ['forbidden key'] },
      ]);
    }
    // Valid payloads of flat DTOs skip class-transformer and class-validator (per-message cost);
    // anything else, and every invalid payload, takes their path and gets their error details.
    if (dto && compiledCheck(dto)?.(value as Record<string, unknown>))
      return Object.assign(new (dto as new () => object)(), value);
    return (await super.transform(value, metadata)) as unknown;
  }
}

export function createValidationPipe(): SafeValidationPipe {
  return new SafeValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
