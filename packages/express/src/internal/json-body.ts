import { isUtf8 } from 'node:buffer';
import express, { type Request, type RequestHandler } from 'express';

/**
 * The JSON body of POST routes. Any content type is read as JSON (Wazuh's clients send application/json;
 * curl users forget it); non-strict, so that a JSON scalar reaches validation and is named instead of
 * failing as "malformed"; invalid UTF-8 is refused (body-parser would decode it into U+FFFD silently), so
 * that what is stored is what the caller sent.
 *
 * The common body (a declared `Content-Length` within the limit, no `Content-Encoding`, UTF-8 or no
 * charset) is read here directly: chunks gathered, checked as UTF-8, a leading BOM dropped, `JSON.parse`d.
 * Everything else (chunked bodies, compressed ones, other charsets, a length beyond the limit) goes through
 * express.json, which owns those cases. Both give the same body and raise errors of the same `type`
 * (body-parser's), which the error middleware maps.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const general = express.json({
    limit: limitBytes,
    type: () => true,
    strict: false,
    verify: (_req, _res, buf) => {
      if (!isUtf8(buf)) throw new Error('the body is not valid UTF-8');
    },
  });
  return (req, res, next) => {
    const length = plainLength(req, limitBytes);
    if (length === undefined) {
      general(req, res, next);
      return;
    }
    readWhole(req, length, (error, body) => {
      if (error) {
        next(error);
        return;
      }
      try {
        req.body = parse(body as Buffer);
      } catch (e) {
        next(e);
        return;
      }
      next();
    });
  };
}

/** The declared length of a body this reader takes, or undefined when express.json should. */
function plainLength(req: Request, limitBytes: number): number | undefined {
  if (req.readableEnded) return undefined;
  const headers = req.headers;
  const declared = headers['content-length'];
  if (declared === undefined || headers['transfer-encoding'] !== undefined) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  const type = headers['content-type'];
  if (type !== undefined && /charset/i.test(type) && !/;\s*charset\s*=\s*("?)utf-8\1\s*(;|$)/i.test(type))
    return undefined;
  if (!/^[0-9]{1,15}$/.test(declared)) return undefined;
  const length = Number(declared);
  return length <= limitBytes ? length : undefined;
}

/** An error shaped like body-parser's (`type`, `status`, `expose`). */
function bodyError(status: number, message: string, type: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type });
}

function readWhole(req: Request, length: number, done: (error?: Error, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  const finish = (error?: Error, body?: Buffer): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.off('error', onError);
    done(error, body);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    // Node's parser stops at the declared length; fewer bytes end the request as aborted, not here.
    if (received !== length) {
      finish(bodyError(400, 'request size did not match content length', 'request.size.invalid'));
      return;
    }
    finish(undefined, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
  };
  const onClose = (): void => {
    if (!req.complete) finish(bodyError(400, 'request aborted', 'request.aborted'));
  };
  const onError = (e: Error): void => finish(e);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  req.on('error', onError);
}

function parse(body: Buffer): unknown {
  if (!isUtf8(body)) throw bodyError(403, 'the body is not valid UTF-8', 'entity.verify.failed');
  // As body-parser does: a leading BOM is dropped, and an empty body is an empty object.
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw bodyError(400, e instanceof Error ? e.message : 'invalid JSON', 'entity.parse.failed');
  }
}
