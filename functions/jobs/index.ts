// Supabase edge function `jobs`: runs a scheduled job by name (POST /jobs/<name>, service role).
import { createJobsApp } from "../../packages/server/src/jobs/app.ts";
import { createServices } from "../../packages/server/src/main.ts";
import { loadConfig } from "../../packages/server/src/platform/config.ts";

const app = createJobsApp(createServices(loadConfig(Deno.env.toObject())));

Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000) }, app.fetch);
