import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsJsonObject } from '../../common/validators';
import { AGENT_ROLES, type AgentRole } from '../agent.entity';

export const AGENT_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{1,62}$/;
export const METADATA_MAX_BYTES = 4096;

export class CreateAgentDto {
  @ApiProperty({ example: 'summarizer-bot', pattern: AGENT_NAME_PATTERN.source })
  @IsString()
  @Matches(AGENT_NAME_PATTERN, { message: 'name must match ^[a-z0-9][a-z0-9_.-]{1,62}$' })
  name: string;

  @ApiPropertyOptional({ maxLength: 128 })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  displayName?: string;

  @ApiPropertyOptional({ enum: AGENT_ROLES, default: 'agent' })
  @IsOptional()
  @IsIn(AGENT_ROLES)
  role?: AgentRole;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'JSON object, <= 4 KiB',
  })
  @IsOptional()
  @IsJsonObject(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;
}

export class RateLimitOverridesDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1_000_000, description: 'REST requests per minute' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  restPerMinute?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 100_000,
    description: 'socket.io events per second per socket',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  wsEventsPerSecond?: number;
}

export class UpdateAgentDto {
  @ApiPropertyOptional({ nullable: true, maxLength: 128 })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @Length(1, 128)
  displayName?: string | null;

  @ApiPropertyOptional({ enum: AGENT_ROLES })
  @IsOptional()
  @IsIn(AGENT_ROLES)
  role?: AgentRole;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsJsonObject(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: RateLimitOverridesDto,
    nullable: true,
    description: 'null restores the defaults',
  })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @ValidateNested()
  @Type(() => RateLimitOverridesDto)
  rateLimits?: RateLimitOverridesDto | null;
}

export class CreateApiTokenDto {
  @ApiProperty({ example: 'ci-runner' })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiPropertyOptional({ description: 'ISO-8601 time in the future; omit for no expiry' })
  @IsOptional()
  @IsISO8601({ strict: true })
  @MaxLength(40)
  expiresAt?: string;
}
