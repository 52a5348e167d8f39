import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { closeAllSockets, collect, connectSocket, request, waitFor } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

let seq = 0;
const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${(seq += 1)}`;

describe('rooms and membership', () => {
  let t: TestApp;
  let http: Http;
  let owner: TestAgent;
  let outsider: TestAgent;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    owner = await createAgent(http, t.adminToken);
    outsider = await createAgent(http, t.adminToken);
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  it('creates a room with its creator as owner', async () => {
    const created = await http.post(
      '/v1/rooms',
      { name: uniqueName('team'), topic: 'plans' },
      owner.jwt,
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      visibility: 'public',
      kind: 'group',
      topic: 'plans',
      createdBy: owner.agent.id,
      lastSeq: 0,
      archivedAt: null,
    });
    const members = await http.get(`/v1/rooms/${created.body.id}/members`, owner.jwt);
    expect(members.body).toEqual([
      expect.objectContaining({ agentId: owner.agent.id, role: 'owner', name: owner.agent.name }),
    ]);
  });

  it('rejects a duplicate room name with conflict and a bad slug with validation_failed', async () => {
    const name = uniqueName('dup');
    expect((await http.post('/v1/rooms', { name }, owner.jwt)).status).toBe(201);
    const again = await http.post('/v1/rooms', { name }, outsider.jwt);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    const bad = await http.post('/v1/rooms', { name: 'Bad Name!' }, owner.jwt);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
  });

  it('forbids join, send and history of a private room until its owner adds the agent', async () => {
    const room = (
      await http.post('/v1/rooms', { name: uniqueName('secret'), visibility: 'private' }, owner.jwt)
    ).body;
    const socket = await connectSocket(t.url, outsider.jwt);

    const join = await request(socket, 'room:join', { roomId: room.id });
    expect(join).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const send = await request(socket, 'message:send', { roomId: room.id, body: 'let me in' });
    expect(send).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const restSend = await http.post(`/v1/rooms/${room.id}/messages`, { body: 'hi' }, outsider.jwt);
    expect(restSend.status).toBe(404);
    const history = await http.get(`/v1/rooms/${room.id}/messages`, outsider.jwt);
    expect(history.status).toBe(404);
    expect((await http.get(`/v1/rooms/${room.id}`, outsider.jwt)).status).toBe(404);
    const listed = await http.get('/v1/rooms?limit=200', outsider.jwt);
    expect(listed.body.items.map((r: any) => r.id)).not.toContain(room.id);
    const selfAdd = await http.put(
      `/v1/rooms/${room.id}/members/${outsider.agent.id}`,
      {},
      outsider.jwt,
    );
    expect(selfAdd.status).toBe(404);

    const added = await http.put(
      `/v1/rooms/${room.id}/members/${outsider.agent.id}`,
      {},
      owner.jwt,
    );
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ agentId: outsider.agent.id, role: 'member' });
    expect((await request(socket, 'room:join', { roomId: room.id })).ok).toBe(true);
    expect((await request(socket, 'message:send', { roomId: room.id, body: 'thanks' })).ok).toBe(
      true,
    );
    expect((await http.get(`/v1/rooms/${room.id}/messages`, outsider.jwt)).body.items).toHaveLength(
      1,
    );
    expect(
      (await http.get('/v1/rooms?limit=200', outsider.jwt)).body.items.map((r: any) => r.id),
    ).toContain(room.id);
  });

  it('makes an agent a member when it joins a public room, and lets it leave through REST', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('lobby') }, owner.jwt)).body;
    const socket = await connectSocket(t.url, outsider.jwt);
    expect(
      (await request(socket, 'message:send', { roomId: room.id, body: 'early' })).error.code,
    ).toBe('forbidden');
    expect((await request(socket, 'room:join', { roomId: room.id })).ok).toBe(true);
    const members = await http.get(`/v1/rooms/${room.id}/members`, owner.jwt);
    expect(members.body.map((m: any) => m.agentId)).toContain(outsider.agent.id);
    expect(
      (await http.delete(`/v1/rooms/${room.id}/members/${outsider.agent.id}`, outsider.jwt)).status,
    ).toBe(204);
    expect(
      (await http.get(`/v1/rooms/${room.id}/members`, owner.jwt)).body.map((m: any) => m.agentId),
    ).not.toContain(outsider.agent.id);
  });

  it('stops delivering a room to a member removed by the owner', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('kick') }, owner.jwt)).body;
    const ownerSocket = await connectSocket(t.url, owner.jwt);
    const memberSocket = await connectSocket(t.url, outsider.jwt);
    await request(ownerSocket, 'room:join', { roomId: room.id });
    await request(memberSocket, 'room:join', { roomId: room.id });
    const received = collect(memberSocket, 'message:new');
    await request(ownerSocket, 'message:send', { roomId: room.id, body: 'one' });
    await waitFor(() => received.length === 1);
    expect(
      (await http.delete(`/v1/rooms/${room.id}/members/${outsider.agent.id}`, owner.jwt)).status,
    ).toBe(204);
    await request(ownerSocket, 'message:send', { roomId: room.id, body: 'two' });
    await new Promise((done) => setTimeout(done, 150));
    expect(received.map((m) => m.body)).toEqual(['one']);
  });

  it('lets only owners and admins manage a room', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('managed') }, owner.jwt)).body;
    await http.put(`/v1/rooms/${room.id}/members/${outsider.agent.id}`, {}, outsider.jwt);
    const byMember = await http.patch(`/v1/rooms/${room.id}`, { topic: 'hijack' }, outsider.jwt);
    expect(byMember.status).toBe(403);
    expect(byMember.body.code).toBe('forbidden');
    expect((await http.delete(`/v1/rooms/${room.id}`, outsider.jwt)).status).toBe(403);
    expect(
      (await http.patch(`/v1/rooms/${room.id}`, { topic: 'by owner' }, owner.jwt)).body.topic,
    ).toBe('by owner');
    expect(
      (await http.patch(`/v1/rooms/${room.id}`, { topic: 'by admin' }, t.adminToken)).body.topic,
    ).toBe('by admin');
    const promoted = await http.put(
      `/v1/rooms/${room.id}/members/${outsider.agent.id}`,
      { role: 'owner' },
      owner.jwt,
    );
    expect(promoted.body.role).toBe('owner');
    expect(
      (await http.patch(`/v1/rooms/${room.id}`, { topic: 'co-owner' }, outsider.jwt)).status,
    ).toBe(200);
  });

  it('archives a room: hidden from lists unless asked, history readable', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('old') }, owner.jwt)).body;
    await http.post(`/v1/rooms/${room.id}/messages`, { body: 'last words' }, owner.jwt);
    const archived = await http.delete(`/v1/rooms/${room.id}`, owner.jwt);
    expect(archived.status).toBe(200);
    expect(archived.body.archivedAt).not.toBeNull();
    expect(
      (await http.get('/v1/rooms?limit=200', owner.jwt)).body.items.map((r: any) => r.id),
    ).not.toContain(room.id);
    expect(
      (await http.get('/v1/rooms?limit=200&includeArchived=true', owner.jwt)).body.items.map(
        (r: any) => r.id,
      ),
    ).toContain(room.id);
    expect((await http.get(`/v1/rooms/${room.id}/messages`, owner.jwt)).body.items).toHaveLength(1);
    expect(
      (await http.post(`/v1/rooms/${room.id}/messages`, { body: 'more' }, owner.jwt)).status,
    ).toBe(409);
  });

  it('opens one direct room per pair, whichever side asks, even concurrently', async () => {
    const a = await createAgent(http, t.adminToken);
    const b = await createAgent(http, t.adminToken);
    const [x, y] = await Promise.all([
      http.post(`/v1/direct/${b.agent.id}`, {}, a.jwt),
      http.post(`/v1/direct/${a.agent.id}`, {}, b.jwt),
    ]);
    expect([x.status, y.status].sort()).toEqual([200, 201]);
    expect(x.body.id).toBe(y.body.id);
    expect(x.body).toMatchObject({ kind: 'direct', visibility: 'private' });
    const again = await http.post(`/v1/direct/${b.agent.id}`, {}, a.jwt);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(x.body.id);
    const members = await http.get(`/v1/rooms/${x.body.id}/members`, a.jwt);
    expect(members.body.map((m: any) => m.agentId).sort()).toEqual([a.agent.id, b.agent.id].sort());
    expect(
      (await http.put(`/v1/rooms/${x.body.id}/members/${owner.agent.id}`, {}, t.adminToken)).status,
    ).toBe(409);
    expect((await http.get(`/v1/rooms/${x.body.id}`, owner.jwt)).status).toBe(404);
    expect((await http.post(`/v1/direct/${a.agent.id}`, {}, a.jwt)).status).toBe(400);
    expect(
      (await http.post('/v1/direct/00000000-0000-7000-8000-000000000000', {}, a.jwt)).status,
    ).toBe(404);
  });

  it('writes an audit row for each room event', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('audited') }, owner.jwt)).body;
    await http.patch(`/v1/rooms/${room.id}`, { topic: 't' }, owner.jwt);
    await http.put(`/v1/rooms/${room.id}/members/${outsider.agent.id}`, {}, owner.jwt);
    await http.delete(`/v1/rooms/${room.id}/members/${outsider.agent.id}`, owner.jwt);
    await http.delete(`/v1/rooms/${room.id}`, owner.jwt);
    const events = await http.get('/v1/audit-events?limit=200', t.adminToken);
    const types = events.body.items
      .filter((e: any) => e.targetId === room.id)
      .map((e: any) => e.type);
    expect(types.sort()).toEqual([
      'member-added',
      'member-removed',
      'room-archived',
      'room-created',
      'room-updated',
    ]);
    expect(
      events.body.items.find((e: any) => e.targetId === room.id && e.type === 'member-removed'),
    ).toMatchObject({
      agentId: owner.agent.id,
      data: { agentId: outsider.agent.id },
    });
  });

  it('keeps an owner an owner when it PUTs itself without a role, and takes PUT without a body', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('keep') }, owner.jwt)).body;
    const again = await http.put(`/v1/rooms/${room.id}/members/${owner.agent.id}`, {}, owner.jwt);
    expect(again.body.role).toBe('owner');
    const bare = await http.request('PUT', `/v1/rooms/${room.id}/members/${outsider.agent.id}`, {
      token: owner.jwt,
    });
    expect(bare.status).toBe(200);
    expect(bare.body.role).toBe('member');
    await http.put(
      `/v1/rooms/${room.id}/members/${outsider.agent.id}`,
      { role: 'owner' },
      owner.jwt,
    );
    const events = await http.get('/v1/audit-events?type=member-updated', t.adminToken);
    expect(events.body.items[0]).toMatchObject({
      targetId: room.id,
      data: { agentId: outsider.agent.id, role: 'owner', previousRole: 'member' },
    });
  });

  it('treats ids in capitals as naming nothing, everywhere alike', async () => {
    const room = (await http.post('/v1/rooms', { name: uniqueName('caps') }, owner.jwt)).body;
    const upper = room.id.toUpperCase();
    expect((await http.get(`/v1/rooms/${upper}`, owner.jwt)).status).toBe(404);
    expect((await http.post(`/v1/rooms/${upper}/messages`, { body: 'x' }, owner.jwt)).status).toBe(
      404,
    );
    expect(
      (await http.post(`/v1/direct/${owner.agent.id.toUpperCase()}`, {}, owner.jwt)).status,
    ).toBe(404);
    expect(
      (
        await http.patch(
          `/v1/agents/${outsider.agent.id.toUpperCase()}`,
          { disabled: true },
          t.adminToken,
        )
      ).status,
    ).toBe(404);
  });
});
