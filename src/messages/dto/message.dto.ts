import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  MinLength,
} from 'class-validator';
import { ToInt } from '../../common/validators';

export const MAX_DATA_BYTES = 65_536;
export const MAX_HISTORY_PAGE = 200;

/** Size caps (body bytes, data bytes) are checked by the service, to answer payload_too_large. */
export class SendMessageDto {
  @ApiProperty({ description: 'Text, 1..MAX_MESSAGE_BYTES bytes (default 16 KiB)' })
  @IsString()
  @MinLength(1)
  body: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'JSON object, <= 64 KiB',
  })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Id of a message in the same room' })
  @IsOptional()
  @IsUUID()
  replyTo?: string;

  @ApiPropertyOptional({
    maxLength: 64,
    description: 'Idempotency key: a resend returns the original',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  clientMsgId?: string;
}

export class HistoryQueryDto {
  @ApiPropertyOptional({ description: 'Only messages with a larger seq (oldest first)' })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  after?: number;

  @ApiPropertyOptional({
    description: 'Only messages with a smaller seq; alone it pages backwards',
  })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  before?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_HISTORY_PAGE, default: 50 })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(MAX_HISTORY_PAGE)
  limit?: number;
}
