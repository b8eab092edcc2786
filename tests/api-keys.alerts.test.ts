import { describe, expect, it } from "vitest";
import { eventTypes } from "../packages/server/src/app.ts";
import { findJob, runJob } from "../packages/server/src/jobs/registry.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Rotation alerts: the api_keys.alerts job emits each alert once per key and condition, with a
// payload the event catalogue describes, and /v1/ready lists the conditions as warnings.
const ctx = useTestDatabase();

async function alertEvents() {
  const { rows } = await ctx.db.query<{ topic: string; payload: Record<string, unknown> }>(
    "select topic, payload from private.events where topic like 'api_key.%' order by id",
  );
  return rows;
}

describe(`API key rotation alerts on ${engine}`, () => {
  it("emits rotation_due, unused and overlap_ending once each, and /v1/ready warns", async () => {
    const { request, services } = createTestApp(ctx.db, {
      API_KEY_MAX_AGE_DAYS: "90",
      API_KEY_UNUSED_DAYS: "30",
      API_KEY_OVERLAP_WARNING_HOURS: "24",
    });
    const fresh = await issueKey(ctx.db, { scopes: ["catalog:read"], name: "fresh" });
    const old = await issueKey(ctx.db, { scopes: ["catalog:read"], name: "old" });
    const idle = await issueKey(ctx.db, { scopes: ["catalog:read"], name: "idle" });
    const rotating = await issueKey(ctx.db, { scopes: ["catalog:read"], name: "rotating" });
    const gone = await issueKey(ctx.db, { scopes: ["catalog:read"], name: "revoked and old" });
    await ctx.db.query(
      `update private.api_keys set created_at = now() - interval '100 days', last_used_at = now() where id = $1`,
      [old.id],
    );
    await ctx.db.query(
      `update private.api_keys set created_at = now() - interval '50 days', last_used_at = now() - interval '40 days' where id = $1`,
      [idle.id],
    );
    await ctx.db.query(
      `update private.api_keys set last_used_at = now(), overlap_ends_at = now() + interval '2 hours' where id = $1`,
      [rotating.id],
    );
    await ctx.db.query(
      `update private.api_keys set created_at = now() - interval '400 days', revoked_at = now() where id = $1`,
      [gone.id],
    );
    await ctx.db.query("update private.api_keys set last_used_at = now() where id = $1", [fresh.id]);

    const before = await request("GET", "/v1/ready");
    expect(before.json.warnings).toEqual([
      "API keys older than 90 days (rotate them): 1",
      "API keys unused for 30 days or more: 1",
      "Rotated API keys that stop working within 24 hours: 1",
    ]);

    const job = findJob("api_keys.alerts");
    if (!job) throw new Error("no api_keys.alerts job");
    expect(await runJob(job, services)).toEqual({ rotation_due: 1, unused: 1, overlap_ending: 1 });
    const events = await alertEvents();
    expect(events.map((event) => [event.topic, event.payload.api_key_id])).toEqual(
      expect.arrayContaining([
        ["api_key.rotation_due", old.id],
        ["api_key.unused", idle.id],
        ["api_key.overlap_ending", rotating.id],
      ]),
    );
    expect(events).toHaveLength(3);
    for (const event of events) {
      const type = eventTypes.find((candidate) => candidate.topic === event.topic);
      expect(type?.data.safeParse(event.payload).success, event.topic).toBe(true);
    }
    expect(events.find((event) => event.topic === "api_key.rotation_due")?.payload).toMatchObject({
      name: "old",
      age_days: 100,
      max_age_days: 90,
    });

    // Once: a second run emits nothing new.
    expect(await runJob(job, services)).toEqual({ rotation_due: 0, unused: 0, overlap_ending: 0 });
    expect(await alertEvents()).toHaveLength(3);

    // Used again, then idle again: a new unused alert.
    await ctx.db.query("update private.api_keys set last_used_at = now() - interval '31 days' where id = $1", [
      idle.id,
    ]);
    await ctx.db.query("update private.api_key_alerts set alerted_at = now() - interval '32 days' where key_id = $1", [
      idle.id,
    ]);
    expect(await runJob(job, services)).toEqual({ rotation_due: 0, unused: 1, overlap_ending: 0 });
  });

  it("a deployment with no key in any condition has no warnings", async () => {
    const { request } = createTestApp(ctx.db, { API_KEY_MAX_AGE_DAYS: "3650", API_KEY_UNUSED_DAYS: "3650" });
    await ctx.db.query("update private.api_keys set revoked_at = now() where overlap_ends_at is not null");
    const ready = await request("GET", "/v1/ready");
    expect(ready.status).toBe(200);
    expect(ready.json.warnings).toEqual([]);
  });
});
