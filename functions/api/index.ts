// Supabase edge function `api`: the Storekeep HTTP API (routes under /api/v1).
import { createApiFromEnv } from "../../packages/server/src/main.ts";

const { app } = createApiFromEnv(Deno.env.toObject());

Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000) }, app.fetch);
