import { EventStreamParser, followRequest, type FetchLike } from '../src/event-stream';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

describe('EventStreamParser', () => {
  it('parses events split anywhere, with ids, multi-line data, comments and CRLF', () => {
    const parser = new EventStreamParser();
    const text =
      ': hello\r\nid: 1\r\nevent: progress\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: 2\nevent: end\ndata: {}\n\n';
    const events = [...text].flatMap((ch) => parser.push(ch));
    expect(events).toEqual([
      { id: '1', event: 'progress', data: '{"a":\n1}' },
      { id: '2', event: 'end', data: '{}' },
    ]);
    expect(parser.lastEventId).toBe('2');
  });

  it('dispatches nothing for an event without data, and names an unnamed one "message"', () => {
    const parser = new EventStreamParser();
    expect(parser.push('event: progress\n\ndata: x\n\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});

describe('followRequest', () => {
  const progress = (done: boolean) => ({ done, n: done ? 2 : 1 });

  it('reads progress events until the end event, sending the Authorization header', async () => {
    const calls: Array<{ url: string; headers: Record<string, string> }> = [];
    const fetch: FetchLike = async (url, init) => {
      calls.push({ url, headers: init.headers });
      return {
        status: 200,
        ok: true,
        body: streamOf([
          `id: 1\nevent: progress\ndata: ${JSON.stringify(progress(false))}\n\n`,
          `id: 2\nevent: progress\ndata: ${JSON.stringify(progress(true))}\n\nevent: end\ndata: {}\n\n`,
        ]),
        json: async () => ({}),
      };
    };
    const seen: unknown[] = [];
    const modes: string[] = [];
    await followRequest({
      fetch,
      requestUrl: '/r/1',
      headers: { authorization: 'Bearer t' },
      onProgress: (p) => seen.push(p),
      isFinal: (p: { done: boolean }) => p.done,
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
    });
    expect(seen).toEqual([progress(false), progress(true)]);
    expect(modes).toEqual(['events']);
    expect(calls).toEqual([
      { url: '/r/1/events', headers: { authorization: 'Bearer t', accept: 'text/event-stream' } },
    ]);
  });

  it('shows the final body of an `end` event (a request already done sends only that)', async () => {
    const fetch: FetchLike = async () => ({
      status: 200,
      ok: true,
      body: streamOf([`id: 1\nevent: end\ndata: ${JSON.stringify(progress(true))}\n\n`]),
      json: async () => ({}),
    });
    const seen: unknown[] = [];
    await followRequest({
      fetch,
      requestUrl: '/r/1',
      headers: {},
      onProgress: (p) => seen.push(p),
      isFinal: () => false,
      signal: new AbortController().signal,
    });
    expect(seen).toEqual([progress(true)]);
  });

  it('reconnects a dropped stream with Last-Event-ID', async () => {
    const lastIds: Array<string | undefined> = [];
    const fetch: FetchLike = async (_url, init) => {
      lastIds.push(init.headers['last-event-id']);
      const first = lastIds.length === 1;
      return {
        status: 200,
        ok: true,
        body: streamOf([
          `id: ${first ? 7 : 8}\nevent: progress\ndata: ${JSON.stringify(progress(!first))}\n\n`,
        ]),
        json: async () => ({}),
      };
    };
    await followRequest({
      fetch,
      requestUrl: '/r/1',
      headers: {},
      onProgress: () => undefined,
      isFinal: (p: { done: boolean }) => p.done,
      signal: new AbortController().signal,
      retryMs: 1,
    });
    expect(lastIds).toEqual([undefined, '7']);
  });

  it('falls back to polling the request when the events route answers 404', async () => {
    const urls: string[] = [];
    let polls = 0;
    const fetch: FetchLike = async (url) => {
      urls.push(url);
      if (url.endsWith('/events')) return { status: 404, ok: false, body: null, json: async () => ({}) };
      polls++;
      return { status: 200, ok: true, body: null, json: async () => progress(polls >= 3) };
    };
    const modes: string[] = [];
    await followRequest({
      fetch,
      requestUrl: '/r/1',
      headers: {},
      onProgress: () => undefined,
      isFinal: (p: { done: boolean }) => p.done,
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
      pollIntervalMs: 1,
    });
    expect(urls).toEqual(['/r/1/events', '/r/1', '/r/1', '/r/1']);
    expect(modes).toEqual(['polling']);
  });
});
