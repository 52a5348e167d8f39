import { IsInt, IsOptional, IsString, IsUUID, MaxLength, Max, Min } from 'class-validator';
import { SendMessageDto } from '../../messages/dto/message.dto';

/** Payloads of the client events (src/contracts/socket-events.ts), validated like REST bodies. */
export class SocketSendMessageDto extends SendMessageDto {
  @IsUUID()
  roomId: string;
}

export class RoomRefDto {
  @IsUUID()
  roomId: string;
}

export class JoinRoomDto extends RoomRefDto {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  sinceSeq?: number;
}

export class AuthRefreshDto {
  @IsString()
  @MaxLength(4096)
  token: string;
}
