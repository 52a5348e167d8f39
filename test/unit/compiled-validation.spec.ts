import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import {
  CreateAgentDto,
  CreateApiTokenDto,
  RateLimitOverridesDto,
  UpdateAgentDto,
} from '../../src/agents/dto/agent.dto';
import { TokenRequestDto } from '../../src/auth/dto/token-request.dto';
import { compiledCheck } from '../../src/common/compiled-validation';
import { createValidationPipe } from '../../src/common/validation';
import { SendMessageDto } from '../../src/messages/dto/message.dto';
import {
  AuthRefreshDto,
  JoinRoomDto,
  RoomRefDto,
  SocketSendMessageDto,
} from '../../src/realtime/dto/socket.dto';
import { CreateRoomDto, PutMemberDto, UpdateRoomDto } from '../../src/rooms/dto/room.dto';

type Dto = new () => object;

const BODY_DTOS: Dto[] = [
  SocketSendMessageDto,
  RoomRefDto,
  JoinRoomDto,
  AuthRefreshDto,
  SendMessageDto,
  CreateAgentDto,
  UpdateAgentDto,
  RateLimitOverridesDto,
  CreateApiTokenDto,
  TokenRequestDto,
  CreateRoomDto,
  UpdateRoomDto,
  PutMemberDto,
];

const VALUES: unknown[] = [
  '0190f3a4-7b1c-7def-8abc-0123456789ab',
  '0190F3A4-7B1C-7DEF-8ABC-0123456789AB',
  'not-a-uuid',
  '',
  'x',
  'lobby',
  'Bad Name!',
  'c'.repeat(64),
  'c'.repeat(65),
  'c'.repeat(4097),
  'public',
  'private',
  'owner',
  'member',
  'admin',
  '2030-01-01T00:00:00.000Z',
  0,
  1,
  -1,
  1.5,
  200,
  Number.MAX_SAFE_INTEGER + 2,
  '5',
  true,
  false,
  null,
  {},
  { a: 1 },
  [],
  [1, 2],
];

/** A small deterministic generator, so a failure names a payload that can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function propertiesOf(dto: Dto): string[] {
  return Object.keys(new dto());
}

function payloads(dto: Dto, count: number): Array<Record<string, unknown>> {
  const next = random(propertiesOf(dto).length * 7919 + dto.name.length);
  const names = propertiesOf(dto);
  const pick = (): unknown => VALUES[Math.floor(next() * VALUES.length)];
  const list: Array<Record<string, unknown>> = [{}];
  for (let i = 0; i < count; i += 1) {
    const payload: Record<string, unknown> = {};
    for (const name of names) if (next() < 0.7) payload[name] = pick();
    if (next() < 0.1) payload.extra = pick();
    list.push(payload);
  }
  return list;
}

/** What class-validator alone says, with the pipe's options. */
function referenceValid(dto: Dto, payload: Record<string, unknown>): boolean {
  const instance = plainToInstance(dto, payload, { enableImplicitConversion: false });
  return (
    validateSync(instance, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
    }).length === 0
  );
}

describe('compiled validation (fast path of the validation pipe)', () => {
  it('compiles the socket event payloads and the message body', () => {
    for (const dto of [
      SocketSendMessageDto,
      RoomRefDto,
      JoinRoomDto,
      AuthRefreshDto,
      SendMessageDto,
    ])
      expect(compiledCheck(dto)).not.toBeNull();
  });

  it('leaves DTOs with nested, custom or conditional rules to class-validator', () => {
    expect(compiledCheck(UpdateAgentDto)).toBeNull(); // nested rateLimits, JSON-object metadata
  });

  it('never accepts what class-validator refuses, and accepts what it accepts', () => {
    let accepted = 0;
    for (const dto of BODY_DTOS) {
      const check = compiledCheck(dto);
      if (!check) continue;
      for (const payload of payloads(dto, 400)) {
        const expected = referenceValid(dto, payload);
        if (check(payload) !== expected)
          throw new Error(`${dto.name}: ${JSON.stringify(payload)} should be ${expected}`);
        if (expected) accepted += 1;
      }
    }
    expect(accepted).toBeGreaterThan(50); // the corpus reaches the valid side too
  });

  it('gives the same DTO instance as class-transformer on the fast path', async () => {
    const pipe = createValidationPipe();
    const payload = {
      roomId: '0190f3a4-7b1c-7def-8abc-0123456789ab',
      body: 'hello',
      data: { nested: { list: [1, 'two'] } },
      clientMsgId: 'k1',
    };
    const result = await pipe.transform(payload, {
      type: 'body',
      metatype: SocketSendMessageDto,
    });
    expect(result).toBeInstanceOf(SocketSendMessageDto);
    expect(result).toEqual(plainToInstance(SocketSendMessageDto, payload));
  });

  it('still answers invalid payloads with class-validator’s field details', async () => {
    const pipe = createValidationPipe();
    await expect(
      pipe.transform(
        { roomId: 'nope', body: '', extra: 1 },
        { type: 'body', metatype: SocketSendMessageDto },
      ),
    ).rejects.toMatchObject({
      code: 'validation_failed',
      details: expect.arrayContaining([
        { field: 'roomId', problems: ['roomId must be a UUID'] },
        { field: 'extra', problems: ['property extra should not exist'] },
      ]),
    });
  });
});
