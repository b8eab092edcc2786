// Realtime's REST broadcast (`/realtime/v1/api/broadcast`), as supabase-js's `channel.send` falls
// back to it before subscribing and `channel.httpSend` uses it. Answers 202 like Supabase.
import { Hono } from "hono";
import { z } from "zod";
import type { Caller, TokenVerifier } from "../../../server/src/http/auth.ts";
import type { BroadcastMessage, RealtimeServer } from "./server.ts";

const MessagesSchema = z.object({
  messages: z
    .array(
      z.object({
        topic: z.string().min(1).max(255),
        event: z.string().min(1).max(255),
        payload: z.unknown().optional(),
        private: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(100),
});

export function createBroadcastRoutes(realtime: RealtimeServer, tokens: TokenVerifier) {
  const app = new Hono();
  const fail = (status: 400 | 401 | 403, message: string) => Response.json({ error: message, message }, { status });

  // The apikey must be the project's; the bearer token, when there is one, is the caller.
  const authenticate = async (
    apikey: string | undefined,
    authorization: string | undefined,
  ): Promise<Caller | undefined> => {
    try {
      const keyCaller = await tokens.verify(apikey ?? "");
      const token = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
      return token ? await tokens.verify(token) : keyCaller;
    } catch {
      return undefined;
    }
  };

  const deliver = async (caller: Caller, messages: BroadcastMessage[]) => {
    const { refused } = await realtime.broadcast(caller, messages);
    return refused
      ? fail(403, `not allowed to broadcast to private channel ${refused}`)
      : new Response(null, { status: 202 });
  };

  app.post("/broadcast", async (c) => {
    const caller = await authenticate(c.req.header("apikey"), c.req.header("authorization"));
    if (!caller) return fail(401, "invalid apikey or token");
    const parsed = MessagesSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success)
      return fail(400, parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "));
    return deliver(
      caller,
      parsed.data.messages.map((message) => ({
        ...message,
        payload: message.payload ?? {},
        private: message.private ?? false,
      })),
    );
  });

  app.post("/broadcast/:topic/events/:event", async (c) => {
    const caller = await authenticate(c.req.header("apikey"), c.req.header("authorization"));
    if (!caller) return fail(401, "invalid apikey or token");
    const binary = c.req.header("content-type")?.startsWith("application/octet-stream");
    const payload = binary ? await c.req.arrayBuffer() : await c.req.json().catch(() => undefined);
    if (payload === undefined) return fail(400, "the body is the payload: JSON or application/octet-stream");
    return deliver(caller, [
      { topic: c.req.param("topic"), event: c.req.param("event"), payload, private: c.req.query("private") === "true" },
    ]);
  });

  return app;
}
