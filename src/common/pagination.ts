import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { AppError } from './errors';
import { ToInt } from './validators';

export class PageQueryDto {
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export const DEFAULT_PAGE_SIZE = 50;

/** Opaque cursors: base64url of the last item's sort key, so clients cannot depend on its form. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(
  cursor: string | undefined,
  isValid: (key: string) => boolean,
): string | undefined {
  if (cursor === undefined) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isValid(key))
    throw new AppError('validation_failed', 'cursor is not valid', [
      { field: 'cursor', problems: ['unknown cursor'] },
    ]);
  return key;
}
