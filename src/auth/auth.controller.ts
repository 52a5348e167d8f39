import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Actor, Principal } from '../common/actor';
import type { AccessTokenDto } from '../contracts/rest';
import { AuthService } from './auth.service';
import { CurrentPrincipal, Public, RequestActor } from './decorators';
import { TokenRequestDto } from './dto/token-request.dto';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Trades an API token for a short-lived access JWT. */
  @Public()
  @Post('token')
  @HttpCode(200)
  token(@Body() body: TokenRequestDto, @RequestActor() actor: Actor): Promise<AccessTokenDto> {
    return this.auth.issueAccessToken(body.apiToken, actor);
  }

  /** Revokes the JWT this request is authenticated with. */
  @ApiBearerAuth()
  @Post('logout')
  @HttpCode(204)
  async logout(
    @CurrentPrincipal() principal: Principal,
    @RequestActor() actor: Actor,
  ): Promise<void> {
    await this.auth.revokeCurrentJwt(principal, actor);
  }
}
