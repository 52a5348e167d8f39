import { ValidationError, ValidationPipe } from '@nestjs/common';
import { AppError } from './errors';

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

/** Unknown fields are rejected, types converted only where the DTO says so, nested DTOs validated. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
