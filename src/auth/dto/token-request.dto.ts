import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';

export class TokenRequestDto {
  @ApiProperty({ description: 'An API token (ahp_...)', example: 'ahp_...' })
  @IsString()
  @MaxLength(200)
  apiToken: string;
}
