/**
 * A reader of `text/event-stream` bodies (the WHATWG server-sent events format, as far as the request event
 * streams use it): `id`, `event` and `data` fields, comment lines skipped, an event dispatched at a blank
 * line. Used by the CLI's `status --watch` and by tests.
 */
export interface ServerSentEvent {
  /** The `id` field, when the event had one. */
  id?: string;
  /** The `event` field; `message` when absent. */
  event: string;
  /** The `data` lines, joined by `\n`. */
  data: string;
}

/** Largest event (bytes of its lines) accepted; a longer one fails the read instead of growing memory. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

export async function* parseEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let fields: { id?: string; event?: string; data: string[] } = { data: [] };
  let eventBytes = 0;
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      const nl = buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (fields.data.length > 0 || fields.event !== undefined) {
          yield {
            ...(fields.id !== undefined && { id: fields.id }),
            event: fields.event ?? 'message',
            data: fields.data.join('\n'),
          };
        }
        fields = { data: [] };
        eventBytes = 0;
        continue;
      }
      if (line.startsWith(':')) continue;
      eventBytes += line.length;
      if (eventBytes > MAX_EVENT_BYTES) throw new Error('an event of the stream is too large');
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'data') fields.data.push(value);
      else if (name === 'event') fields.event = value;
      else if (name === 'id' && !value.includes('\0')) fields.id = value;
    }
    if (buffer.length > MAX_EVENT_BYTES) throw new Error('an event of the stream is too large');
  }
}
