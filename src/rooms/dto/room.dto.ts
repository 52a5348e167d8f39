import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { Transform } from 'class-transformer';
import { PageQueryDto } from '../../common/pagination';

export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{1,79}$/;
const VISIBILITIES = ['public', 'private'] as const;

export class CreateRoomDto {
  @ApiProperty({ example: 'research', pattern: ROOM_NAME_PATTERN.source })
  @IsString()
  @Matches(ROOM_NAME_PATTERN, {
    message: 'name must be a slug matching ^[a-z0-9][a-z0-9_-]{1,79}$',
  })
  name: string;

  @ApiPropertyOptional({ maxLength: 1000 })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  topic?: string;

  @ApiPropertyOptional({ enum: VISIBILITIES, default: 'public' })
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: 'public' | 'private';
}

export class UpdateRoomDto {
  @ApiPropertyOptional({ pattern: ROOM_NAME_PATTERN.source })
  @IsOptional()
  @IsString()
  @Matches(ROOM_NAME_PATTERN, {
    message: 'name must be a slug matching ^[a-z0-9][a-z0-9_-]{1,79}$',
  })
  name?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: 1000 })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MaxLength(1000)
  topic?: string | null;

  @ApiPropertyOptional({ enum: VISIBILITIES })
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: 'public' | 'private';
}

export class ListRoomsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsBoolean()
  includeArchived?: boolean;
}

export class PutMemberDto {
  @ApiPropertyOptional({ enum: ['owner', 'member'], default: 'member' })
  @IsOptional()
  @IsIn(['owner', 'member'])
  role?: 'owner' | 'member';
}
