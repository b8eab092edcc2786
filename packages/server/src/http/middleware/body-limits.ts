import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { problemResponse } from "../problems.ts";

/** The largest request body a group of routes takes; the first group whose path matches wins. */
export interface BodyLimit {
  path: RegExp;
  maxBytes: number;
}

const MIB = 1024 * 1024;

/** The documented limits (README "API conventions"); anything else takes at most 1 MiB. */
export const BODY_LIMITS: readonly BodyLimit[] = [
  { path: /\/v1\/products\/import$/, maxBytes: 64 * MIB },
  { path: /\/v1\/products\/bulk$/, maxBytes: 16 * MIB },
  // Image uploads: the ceiling of IMAGES_MAX_BYTES plus the multipart envelope; the route itself
  // holds each upload to the configured limit.
  { path: /\/v1\/products\/[^/]+\/images(\/[^/]+\/replace)?$/, maxBytes: 100 * MIB + 64 * 1024 },
];
export const DEFAULT_BODY_LIMIT = 1 * MIB;

/**
 * Bounds every request body, and keeps the connection usable when the answer comes before the body
 * is read (a 401, a 415, a 422 on a path parameter): the unread rest is drained after the answer,
 * so a keep-alive client's next request on that connection is served. A body over the limit is
 * answered 413 with `Connection: close` instead (draining it would mean reading what we refuse).
 */
export function bodyLimits(limits: readonly BodyLimit[] = BODY_LIMITS, fallback = DEFAULT_BODY_LIMIT) {
  const handler: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!c.req.raw.body) return next();
    const maxBytes = limits.find((limit) => limit.path.test(c.req.path))?.maxBytes ?? fallback;
    const tooLarge = () => {
      const response = problemResponse(c, "payload-too-large", `this route takes a body of at most ${maxBytes} bytes`, {
        max_bytes: maxBytes,
      });
      response.headers.set("connection", "close");
      return response;
    };

    const declared = c.req.header("content-length");
    if (declared !== undefined && !c.req.header("transfer-encoding")) {
      if (Number(declared) > maxBytes) return tooLarge();
    } else {
      // No length given: read up to the limit before anything else does.
      const body = await readAtMost(c.req.raw.body, maxBytes);
      if (body === undefined) return tooLarge();
      c.req.raw = new Request(c.req.raw, { body });
    }

    await next();

    const unread = c.req.raw.bodyUsed ? null : c.req.raw.body;
    if (unread && (await readAtMost(unread, maxBytes)) === undefined) c.res.headers.set("connection", "close");
  };
  return handler;
}

/** The whole stream if it holds at most `maxBytes`; undefined (and the stream cancelled) if more. */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}
