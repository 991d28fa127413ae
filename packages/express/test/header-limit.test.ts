/**
 * The listener's header limit (`maxHeaderSizeFor`): a dry run of the largest batch hands out a Plan-Token
 * longer than Node's default 16 KiB of headers; the listener the sidecar starts takes it back.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { listen, maxHeaderSizeFor } from '@command-manager/express';
import { basic, buildApp, groupCommand, inMemoryWorld } from './support/fixtures';

const P = '/_plugins/_command_manager';
const COMMANDS = 400;

async function sendBack(maxHeaderSize: number | undefined): Promise<{ tokenLength: number; status: number }> {
  const world = inMemoryWorld({ agents: 1, maxBatchCommands: COMMANDS });
  const { app } = await buildApp(world.service);
  const server = (await listen(app, {
    port: 0,
    ...(maxHeaderSize !== undefined && { maxHeaderSize }),
  })) as Server;
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${P}/commands`;
    const body = JSON.stringify({ commands: Array.from({ length: COMMANDS }, () => groupCommand()) });
    const headers = { authorization: basic('wazuh-server'), 'content-type': 'application/json' };
    const dry = await fetch(`${url}?dry_run`, { method: 'POST', headers, body });
    expect(dry.status).toBe(200);
    const token = ((await dry.json()) as { plan_token: string }).plan_token;
    const sent = await fetch(url, { method: 'POST', headers: { ...headers, 'plan-token': token }, body });
    await sent.arrayBuffer();
    return { tokenLength: token.length, status: sent.status };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('the header limit of the listener', () => {
  it(`takes back the Plan-Token of a dry run of ${COMMANDS} commands, which Node's default refuses`, async () => {
    const sized = await sendBack(maxHeaderSizeFor(COMMANDS));
    expect(sized.tokenLength).toBeGreaterThan(16 * 1024);
    expect(sized.status).toBe(201);
    expect((await sendBack(undefined)).status).toBe(431);
  });
});
