import { Transform } from 'class-transformer';
import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';

/** A plain JSON object (not an array, not null) whose JSON text is at most `maxBytes` bytes. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [maxBytes],
      options,
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          return Buffer.byteLength(JSON.stringify(value)) <= maxBytes;
        },
        defaultMessage(args: ValidationArguments): string {
          return `${args.property} must be a JSON object of at most ${maxBytes} bytes`;
        },
      },
    });
  };
}

/** Query-string integers: "50" -> 50; anything else is left for @IsInt to reject. */
export const ToInt = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
  );
