import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, RequestActor } from '../auth/decorators';
import type { Actor, Principal } from '../common/actor';
import type { Page, RoomDto, RoomMemberDto } from '../contracts/rest';
import { CreateRoomDto, ListRoomsQueryDto, PutMemberDto, UpdateRoomDto } from './dto/room.dto';
import { DirectRoomsService } from './direct-rooms.service';
import { RoomsService } from './rooms.service';

@ApiTags('rooms')
@ApiBearerAuth()
@Controller('v1')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly directRooms: DirectRoomsService,
  ) {}

  @Get('rooms')
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListRoomsQueryDto,
  ): Promise<Page<RoomDto>> {
    return this.rooms.list(principal, query);
  }

  @Post('rooms')
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateRoomDto,
    @RequestActor() actor: Actor,
  ): Promise<RoomDto> {
    return this.rooms.create(principal, body, actor);
  }

  @Get('rooms/:id')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<RoomDto> {
    return this.rooms.get(principal, id);
  }

  @Patch('rooms/:id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: UpdateRoomDto,
    @RequestActor() actor: Actor,
  ): Promise<RoomDto> {
    return this.rooms.update(principal, id, body, actor);
  }

  /** Archives the room: history stays readable, nothing more can be sent. */
  @Delete('rooms/:id')
  @HttpCode(200)
  archive(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @RequestActor() actor: Actor,
  ): Promise<RoomDto> {
    return this.rooms.archive(principal, id, actor);
  }

  @Get('rooms/:id/members')
  members(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
  ): Promise<RoomMemberDto[]> {
    return this.rooms.listMembers(principal, id);
  }

  @Put('rooms/:id/members/:agentId')
  putMember(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('agentId') agentId: string,
    @Body() body: PutMemberDto,
    @RequestActor() actor: Actor,
  ): Promise<RoomMemberDto> {
    return this.rooms.putMember(principal, id, agentId, body, actor);
  }

  @Delete('rooms/:id/members/:agentId')
  @HttpCode(204)
  async removeMember(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('agentId') agentId: string,
    @RequestActor() actor: Actor,
  ): Promise<void> {
    await this.rooms.removeMember(principal, id, agentId, actor);
  }

  /** The direct room with another agent: 201 when created, 200 when it already existed. */
  @Post('direct/:agentId')
  async direct(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId') agentId: string,
    @RequestActor() actor: Actor,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RoomDto> {
    const { room, created } = await this.directRooms.openDirect(principal, agentId, actor);
    void reply.status(created ? 201 : 200);
    return room;
  }
}
