import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestProgress } from '@command-manager/core';
import {
  RequestEventStreams,
  parseEventStream,
  type RequestEventOptions,
  type ServerSentEvent,
} from '@command-manager/express';
import {
  basic,
  bearer,
  buildApp,
  groupCommand,
  inMemoryWorld,
  TOKENS,
  type TestUser,
} from './support/fixtures';

const P = '/_plugins/_command_manager';

interface Opened {
  status: number;
  headers: Headers;
  /** The next event; undefined once the stream closed. */
  next(): Promise<ServerSentEvent | undefined>;
  /** Every raw chunk received (heartbeats included). */
  raw(): string;
  close(): void;
}

let server: Server | undefined;

async function serve(app: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(app);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function open(base: string, path: string, headers: Record<string, string>): Promise<Opened> {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, { headers, signal: abort.signal });
  let raw = '';
  if (!res.ok || !res.body) {
    raw = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      next: async () => undefined,
      raw: () => raw,
      close() {},
    };
  }
  const body = res.body;
  async function* tee(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      raw += Buffer.from(chunk).toString('utf8');
      yield chunk;
    }
  }
  const events = parseEventStream(tee());
  return {
    status: res.status,
    headers: res.headers,
    next: async () => {
      try {
        const r = await events.next();
        return r.done ? undefined : r.value;
      } catch (e) {
        if (abort.signal.aborted) return undefined;
        throw e;
      }
    },
    raw: () => raw,
    close: () => abort.abort(),
  };
}

/** A request whose progress the test sets by hand: `read` answers the current body (or throws `error`). */
function scripted(base: RequestProgress): {
  read: (id: number) => Promise<RequestProgress>;
  set(change: Partial<RequestProgress>): void;
  reads(): number;
} {
  let current = base;
  let reads = 0;
  return {
    read: async () => {
      reads++;
      return current;
    },
    set: (change) => {
      current = { ...current, ...change };
    },
    reads: () => reads,
  };
}

async function worldWithRequest(): Promise<{
  base: RequestProgress;
  world: ReturnType<typeof inMemoryWorld>;
}> {
  const world = inMemoryWorld({ agents: 3 });
  const { app } = await buildApp(world.service);
  const base = await serve(app);
  const submitted = await fetch(`${base}${P}/commands`, {
    method: 'POST',
    headers: { authorization: basic('admin'), 'content-type': 'application/json' },
    body: JSON.stringify({ commands: [groupCommand('admin')] }),
  });
  expect(submitted.status).toBe(201);
  const progress = await world.service.getRequest(1);
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  server = undefined;
  return { base: progress, world };
}

async function appWith(
  read: (id: number) => Promise<RequestProgress>,
  options: Partial<RequestEventOptions>,
): Promise<{ base: string; streams: RequestEventStreams }> {
  const streams = new RequestEventStreams(read, options);
  const { app } = await buildApp(inMemoryWorld().service, { requestEvents: streams });
  return { base: await serve(app), streams };
}

const auth = (user: TestUser): Record<string, string> => ({ authorization: basic(user) });

describe('GET /requests/:id/events', () => {
  it('sends the GET body at once, then the end event with the final body, then closes', async () => {
    const world = inMemoryWorld({ agents: 3 });
    const { app } = await buildApp(world.service, {
      requestEvents: new RequestEventStreams((id) => world.service.getRequest(id), { intervalMs: 20 }),
    });
    const base = await serve(app);
    await fetch(`${base}${P}/commands`, {
      method: 'POST',
      headers: { authorization: basic('admin'), 'content-type': 'application/json' },
      body: JSON.stringify({ commands: [groupCommand('admin')] }),
    });
    const stream = await open(base, `${P}/requests/1/events`, auth('reader'));
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const first = await stream.next();
    const get = await (await fetch(`${base}${P}/requests/1`, { headers: auth('reader') })).json();
    expect(first).toEqual({ id: '1', event: 'progress', data: JSON.stringify(get) });

    const cancelled = await fetch(`${base}${P}/requests/1/cancel`, {
      method: 'POST',
      headers: auth('admin'),
    });
    expect(cancelled.status).toBe(200);
    const end = await stream.next();
    const final = (await (
      await fetch(`${base}${P}/requests/1`, { headers: auth('reader') })
    ).json()) as RequestProgress;
    expect(final.done).toBe(true);
    expect(end).toEqual({ id: '2', event: 'end', data: JSON.stringify(final) });
    expect(await stream.next()).toBeUndefined();
  });

  it('sends an event when the counts change and none for an unchanged reading', async () => {
    const { base: progress } = await worldWithRequest();
    const script = scripted(progress);
    const { base } = await appWith(script.read, { intervalMs: 10 });
    const stream = await open(base, `${P}/requests/1/events`, auth('admin'));
    const first = await stream.next();
    expect(JSON.parse(first?.data ?? '')).toEqual(progress);
    // Several readings that find nothing new: no event.
    const before = script.reads();
    while (script.reads() < before + 5) await new Promise((r) => setTimeout(r, 10));
    const counts = { ...progress.counts, pending: 1, sent: 2 };
    script.set({ counts });
    const second = await stream.next();
    expect(second?.id).toBe('2');
    expect(second?.event).toBe('progress');
    expect(JSON.parse(second?.data ?? '').counts).toEqual(counts);
    script.set({ done: true, counts: { ...counts, pending: 0, sent: 0, success: 3 } });
    const end = await stream.next();
    expect(end?.id).toBe('3');
    expect(end?.event).toBe('end');
    expect(await stream.next()).toBeUndefined();
    // Heartbeats aside, exactly the three events were written.
    expect(stream.raw().match(/^event: /gm)).toHaveLength(3);
  });

  it('a resumed stream (Last-Event-ID) numbers its events after it and sends the current state at once', async () => {
    const { base: progress } = await worldWithRequest();
    const { base } = await appWith(scripted(progress).read, {});
    const stream = await open(base, `${P}/requests/1/events`, { ...auth('admin'), 'last-event-id': '41' });
    expect(await stream.next()).toEqual({ id: '42', event: 'progress', data: JSON.stringify(progress) });
    stream.close();
  });

  it('a request already done sends its end event only', async () => {
    const { base: progress } = await worldWithRequest();
    const { base } = await appWith(scripted({ ...progress, done: true }).read, {});
    const stream = await open(base, `${P}/requests/1/events`, auth('admin'));
    expect((await stream.next())?.event).toBe('end');
    expect(await stream.next()).toBeUndefined();
  });

  it('writes heartbeat comments on an idle stream', async () => {
    const { base: progress } = await worldWithRequest();
    const { base } = await appWith(scripted(progress).read, { heartbeatMs: 20, intervalMs: 10_000 });
    const stream = await open(base, `${P}/requests/1/events`, auth('admin'));
    await stream.next();
    const pending = stream.next();
    while (!/: heartbeat\n\n[\s\S]*: heartbeat\n\n/.test(stream.raw()))
      await new Promise((r) => setTimeout(r, 10));
    stream.close();
    await pending;
  });

  it('bounds streams per caller and per sidecar (429 TOO_MANY_STREAMS) and frees a slot when one closes', async () => {
    const { base: progress } = await worldWithRequest();
    const { base, streams } = await appWith(scripted(progress).read, {
      maxStreamsPerCaller: 1,
      maxStreams: 2,
    });
    const a = await open(base, `${P}/requests/1/events`, auth('admin'));
    await a.next();
    const refused = await open(base, `${P}/requests/1/events`, auth('admin'));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(refused.raw()).error).toMatchObject({
      code: 'TOO_MANY_STREAMS',
      message: expect.stringMatching(/for this caller/),
    });
    const b = await open(base, `${P}/requests/1/events`, auth('reader'));
    expect(b.status).toBe(200);
    await b.next();
    const full = await open(base, `${P}/requests/1/events`, auth('wazuh-server'));
    expect(full.status).toBe(429);
    expect(JSON.parse(full.raw()).error.message).toMatch(/on this sidecar/);
    a.close();
    while (streams.size > 1) await new Promise((r) => setTimeout(r, 10));
    const again = await open(base, `${P}/requests/1/events`, auth('admin'));
    expect(again.status).toBe(200);
    again.close();
    b.close();
  });

  it('closeAll ends open streams without an end event and refuses new ones', async () => {
    const { base: progress } = await worldWithRequest();
    const { base, streams } = await appWith(scripted(progress).read, {});
    const stream = await open(base, `${P}/requests/1/events`, auth('admin'));
    await stream.next();
    streams.closeAll();
    expect(await stream.next()).toBeUndefined();
    expect(stream.raw()).not.toMatch(/event: end/);
    expect(streams.size).toBe(0);
    expect((await open(base, `${P}/requests/1/events`, auth('admin'))).status).toBe(503);
  });

  it('answers JSON errors before any event: 404, 400 (id, Last-Event-ID), 401, 403', async () => {
    const world = inMemoryWorld();
    const { app } = await buildApp(world.service);
    const base = await serve(app);
    const unknown = await open(base, `${P}/requests/7/events`, auth('admin'));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.raw()).error.code).toBe('NOT_FOUND');
    const badId = await open(base, `${P}/requests/x/events`, auth('admin'));
    expect(JSON.parse(badId.raw()).error.details).toEqual([
      { pointer: '/params/id', message: expect.any(String) },
    ]);
    const badLast = await open(base, `${P}/requests/7/events`, { ...auth('admin'), 'last-event-id': 'abc' });
    expect(badLast.status).toBe(400);
    expect(JSON.parse(badLast.raw()).error.details[0].pointer).toBe('/headers/last-event-id');
    expect((await open(base, `${P}/requests/7/events`, {})).status).toBe(401);
    expect((await open(base, `${P}/requests/7/events`, { authorization: bearer(TOKENS.comms) })).status).toBe(
      403,
    );
  });
});
