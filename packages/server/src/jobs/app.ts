import { Hono } from "hono";
import type { AppEnv, Services } from "../http/env.ts";
import { handleError } from "../http/errors.ts";
import { authenticate, requireRole } from "../http/middleware/authenticate.ts";
import { Problem } from "../http/problems.ts";
import { findJob, jobs, runJob } from "./registry.ts";

/** The `jobs` edge function: a scheduler (pg_cron + pg_net, or any cron) POSTs /jobs/<name>. */
export function createJobsApp(services: Services) {
  const app = new Hono<AppEnv>().basePath("/jobs");
  app.use("*", async (c, next) => {
    c.set("services", services);
    c.set("requestId", c.req.header("x-request-id") ?? crypto.randomUUID());
    await next();
  });
  app.use("*", authenticate);
  app.get("/", requireRole("admin"), (c) =>
    c.json({ data: jobs.map(({ name, intervalMs }) => ({ name, interval_ms: intervalMs })) }),
  );
  app.post("/:name", requireRole("admin"), async (c) => {
    const job = findJob(c.req.param("name"));
    if (!job) throw new Problem("not-found", `no job named ${c.req.param("name")}`);
    const result = await runJob(job, services);
    services.logger.info("job ran", { job: job.name, request_id: c.var.requestId, ...result });
    return c.json({ job: job.name, result });
  });
  app.onError(handleError);
  return app;
}
