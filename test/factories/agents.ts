import type { AgentDto } from '../../src/contracts/rest';
import { Http } from '../support/http';

let counter = 0;

export interface TestAgent {
  agent: AgentDto;
  apiToken: string;
  jwt: string;
}

/** Creates an agent through the admin API, gives it an API token and a JWT. */
export async function createAgent(
  http: Http,
  adminToken: string,
  overrides: { name?: string; role?: 'admin' | 'agent' } = {},
): Promise<TestAgent> {
  counter += 1;
  const name = overrides.name ?? `agent-${process.pid}-${counter}`;
  const created = await http.post(
    '/v1/agents',
    { name, role: overrides.role ?? 'agent' },
    adminToken,
  );
  if (created.status !== 201)
    throw new Error(`create agent: ${created.status} ${JSON.stringify(created.body)}`);
  const token = await http.post(
    `/v1/agents/${created.body.id}/tokens`,
    { name: 'test' },
    adminToken,
  );
  if (token.status !== 201)
    throw new Error(`create token: ${token.status} ${JSON.stringify(token.body)}`);
  const jwt = await exchange(http, token.body.token);
  return { agent: created.body, apiToken: token.body.token, jwt };
}

export async function exchange(http: Http, apiToken: string): Promise<string> {
  const response = await http.post('/v1/auth/token', { apiToken });
  if (response.status !== 200)
    throw new Error(`token exchange: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.accessToken as string;
}
