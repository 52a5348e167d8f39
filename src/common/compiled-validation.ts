import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { TransformationType } from 'class-transformer';
import {
  getMetadataStorage,
  isBoolean,
  isIn,
  isInt,
  isObject,
  isString,
  isUUID,
  length,
  matches,
  max,
  maxLength,
  min,
  minLength,
  ValidationTypes,
} from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/**
 * class-validator's own check functions, keyed by the decorator's metadata name, called with the
 * decorator's constraints exactly as the decorator's `validate` calls them.
 */
const CHECKS: Record<string, (value: unknown, constraints: unknown[]) => boolean> = {
  isUuid: (value, c) => isUUID(value, c[0] as Parameters<typeof isUUID>[1]),
  isString: (value) => isString(value),
  isBoolean: (value) => isBoolean(value),
  isObject: (value) => isObject(value),
  isInt: (value) => isInt(value),
  isIn: (value, c) => isIn(value, c[0] as unknown[]),
  minLength: (value, c) => minLength(value, c[0] as number),
  maxLength: (value, c) => maxLength(value, c[0] as number),
  isLength: (value, c) => length(value, c[0] as number, c[1] as number),
  matches: (value, c) =>
    c[1] === undefined
      ? matches(value as string, c[0] as RegExp)
      : matches(value as string, c[0] as string, c[1] as string),
  min: (value, c) => min(value, c[0] as number),
  max: (value, c) => max(value, c[0] as number),
};

interface PropertyRule {
  name: string;
  optional: boolean;
  checks: Array<(value: unknown) => boolean>;
}

/** True when the value would pass; false means "ask class-validator", which explains why. */
export type CompiledCheck = (value: Record<string, unknown>) => boolean;

/** A DTO class, as the validation pipe's metadata names it. */
export type DtoClass = abstract new (...args: never[]) => unknown;

const compiled = new Map<DtoClass, CompiledCheck | null>();

/**
 * A fast path for the validation pipe on hot payloads (every socket event, every REST body): a
 * DTO whose rules are all flat built-in checks is compiled once into a plain function over the
 * same class-validator check functions, with the pipe's whitelist (no unknown property). It only
 * ever says "valid"; anything it would refuse goes through class-validator, which produces the
 * error. DTOs with anything else (nested DTOs, custom or conditional validators, groups, `each`,
 * class-transformer decorators) are not compiled and always take class-validator's path.
 */
export function compiledCheck(metatype: DtoClass): CompiledCheck | null {
  let check = compiled.get(metatype);
  if (check === undefined) {
    check = compile(metatype);
    compiled.set(metatype, check);
  }
  return check;
}

function compile(metatype: DtoClass): CompiledCheck | null {
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false);
  if (metadatas.length === 0 || defaultMetadataStorage.getStrategy(metatype) !== 'none')
    return null;
  const rules = new Map<string, PropertyRule>();
  for (const metadata of metadatas) {
    if (!compilable(metatype, metadata)) return null;
    const rule = rules.get(metadata.propertyName) ?? {
      name: metadata.propertyName,
      optional: false,
      checks: [],
    };
    rules.set(metadata.propertyName, rule);
    if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
      rule.optional = true;
      continue;
    }
    const fn = CHECKS[metadata.name!];
    const constraints = metadata.constraints ?? [];
    rule.checks.push((value) => fn(value, constraints));
  }
  const list = [...rules.values()];
  const known = new Set(rules.keys());
  return (value) => {
    for (const key in value) if (!known.has(key)) return false;
    for (const rule of list) {
      const v = value[rule.name];
      if (rule.optional && (v === undefined || v === null)) continue;
      for (const check of rule.checks) if (!check(v)) return false;
    }
    return true;
  };
}

function compilable(metatype: DtoClass, metadata: ValidationMetadata): boolean {
  if (metadata.each || metadata.always || (metadata.groups?.length ?? 0) > 0) return false;
  if (metadata.context !== undefined) return false;
  if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
    if (metadata.name !== 'isOptional') return false; // @ValidateIf decides per object
  } else if (metadata.type !== ValidationTypes.CUSTOM_VALIDATION || !CHECKS[metadata.name ?? '']) {
    return false;
  }
  // The pipe turns the payload into a DTO instance with class-transformer: a plain copy is the
  // same instance only when no property has a class-transformer decorator.
  const property = metadata.propertyName;
  return (
    defaultMetadataStorage.findTypeMetadata(metatype, property) === undefined &&
    defaultMetadataStorage.findTransformMetadatas(
      metatype,
      property,
      TransformationType.PLAIN_TO_CLASS,
    ).length === 0 &&
    defaultMetadataStorage.findExposeMetadata(metatype, property) === undefined &&
    defaultMetadataStorage.findExcludeMetadata(metatype, property) === undefined
  );
}
