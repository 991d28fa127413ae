/**
 * Follows a request's progress events (`GET …/requests/:id/events`) for `status --watch`: every `progress`
 * and the final `end` body are handed to `onProgress`. A stream that closes before its `end` (the sidecar
 * stopped) is resumed with `Last-Event-ID`, a few times in a row at most.
 */
import { parseEventStream } from '@command-manager/express';
import { ApiError, type ApiClient } from './api-client';

/** Reconnections in a row without an event in between before giving up. */
const MAX_RESUMES = 5;
const RESUME_DELAY_MS = 500;

/**
 * Resolves with the final body, or `unsupported` when the server answers the first connection 404 (a
 * server without event streams, or an unknown request: the caller then polls, which names the error).
 */
export async function followProgress<T>(
  api: ApiClient,
  requestId: string,
  onProgress: (body: T) => void,
): Promise<T | 'unsupported'> {
  let lastEventId: string | undefined;
  let resumes = 0;
  for (;;) {
    let res: Response;
    try {
      res = await api.eventStream(
        `/_plugins/_command_manager/requests/${requestId}/events`,
        lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && lastEventId === undefined) return 'unsupported';
      if (!(e instanceof ApiError) || (e.status !== 0 && e.status < 500) || ++resumes > MAX_RESUMES) throw e;
      await new Promise((r) => setTimeout(r, RESUME_DELAY_MS));
      continue;
    }
    if (!res.body) throw new ApiError(res.status, 'NO_BODY', 'the event stream has no body');
    let broken: unknown;
    try {
      for await (const event of parseEventStream(res.body)) {
        if (event.id !== undefined) lastEventId = event.id;
        if (event.event !== 'progress' && event.event !== 'end') continue;
        resumes = 0;
        const body = JSON.parse(event.data) as T;
        onProgress(body);
        if (event.event === 'end') return body;
      }
    } catch (e) {
      // The connection broke mid-stream: resumed below like a stream the server closed.
      broken = e;
    }
    if (++resumes > MAX_RESUMES) {
      throw (
        broken ?? new ApiError(0, 'UNREACHABLE', 'the event stream kept closing before the request ended')
      );
    }
    await new Promise((r) => setTimeout(r, RESUME_DELAY_MS));
  }
}
