import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startLocalStack } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { engine } from "./helpers/db.ts";

// `npm start` itself, on PGlite with a data directory, as a user's fresh machine runs it.
describe.skipIf(engine !== "pglite")("the local stack (npm start)", () => {
  it("migrates, seeds and serves the api at Supabase local's URL shape, keeping data across restarts", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "storekeep-stack-"));
    const env = { LOG_LEVEL: "silent" };
    try {
      const first = await startLocalStack({ env, dataDir, port: 0, runJobs: false });
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/api$/);
      expect(first.migration.shimApplied).toBe(true);
      expect(first.migration.applied.length).toBeGreaterThan(0);
      const ready = await fetch(`${first.url}/v1/ready`);
      expect(ready.status).toBe(200);
      const token = await mintStaffToken(first.config.jwtSecret ?? "", "admin");
      const me = await fetch(`${first.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({ app_role: "admin" });
      // Problems and Locations name the path the client called, /functions/v1 included.
      const missing = await fetch(`${first.url}/v1/nowhere`);
      expect(await missing.json()).toMatchObject({ instance: "/functions/v1/api/v1/nowhere" });
      const brand = await fetch(`${first.url}/v1/brands`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "Stack brand" }),
      });
      const created = (await brand.json()) as { id: string };
      expect(brand.headers.get("location")).toBe(`/functions/v1/api/v1/brands/${created.id}`);
      await first.close();

      const second = await startLocalStack({ env, dataDir, port: 0, runJobs: false });
      expect(second.migration).toMatchObject({ shimApplied: false, applied: [] });
      await second.close();

      const fresh = await startLocalStack({ env, dataDir, port: 0, runJobs: false, fresh: true });
      expect(fresh.migration.shimApplied).toBe(true);
      await fresh.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
