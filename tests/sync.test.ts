import { describe, expect, it } from "vitest";
import { mintStaffToken, mintToken } from "../packages/local/src/tokens.ts";
import { TEST_SECRET } from "./helpers/app.ts";
import { collector, subscribe, supabaseClient, useLocalStack } from "./helpers/realtime.ts";

// Catch-up: a PMS client that was offline asks GET /v1/sync/changes from the cursor of the last
// live message it applied, and gets exactly what it missed.
const ctx = useLocalStack();

async function api(path: string, role: "viewer" | "staff" | "admin" | "customer" = "viewer", init: RequestInit = {}) {
  const token =
    role === "customer"
      ? await mintToken({ secret: TEST_SECRET, sub: crypto.randomUUID() })
      : await mintStaffToken(TEST_SECRET, role);
  const response = await fetch(`${ctx.stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
  });
  return { status: response.status, type: response.headers.get("content-type"), json: (await response.json()) as any };
}

const adjust = (delta: number) =>
  api("/v1/inventory/adjust", "staff", {
    method: "POST",
    body: JSON.stringify({ sku: "MUG-ENM-350", location_code: "main", delta, kind: "receipt" }),
  });

describe("catch-up with /v1/sync/changes", () => {
  it("a client disconnected during ten changes catches up exactly", async () => {
    const client = await supabaseClient(ctx.stack, { accessToken: await mintStaffToken(TEST_SECRET, "staff") });
    const live = collector<any>();
    const channel = client
      .channel("inventory:main", { config: { private: true } })
      .on("broadcast", { event: "stock.changed" }, (message) => live.push(message.payload));
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    expect((await adjust(1)).status).toBe(201);
    const [applied] = await live.until(1);
    await client.removeAllChannels(); // offline

    const missed: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { json } = await adjust(1);
      missed.push(json.level.on_hand);
    }

    // On a shared PostgreSQL a transaction elsewhere in the cluster may hold the newest events back
    // (the outbox never lets a reader pass a running transaction): follow next_cursor until all ten.
    const caught: any[] = [];
    let cursor = applied.cursor;
    let page: Awaited<ReturnType<typeof api>> | undefined;
    for (const deadline = Date.now() + 15_000; caught.length < 10 && Date.now() < deadline; ) {
      page = await api(`/v1/sync/changes?since=${cursor}&topics=stock.changed`);
      expect(page.status).toBe(200);
      caught.push(...page.json.data);
      cursor = page.json.next_cursor;
      if (caught.length < 10) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(caught.map((event: any) => event.data.after.on_hand)).toEqual(missed);
    expect(caught.every((event: any) => event.topic === "stock.changed")).toBe(true);
    expect(page?.json.has_more).toBe(false);
    // Nothing more after the page's next cursor; the status agrees.
    const after = await api(`/v1/sync/changes?since=${cursor}&topics=stock`);
    expect(after.json.data).toEqual([]);
    const status = await api(`/v1/sync/status?cursor=${applied.cursor}&topics=stock.changed`);
    expect(status.json).toMatchObject({ behind: 10, up_to_date: false });
    const caughtUp = await api(`/v1/sync/status?cursor=${cursor}&topics=stock.changed`);
    expect(caughtUp.json).toMatchObject({ behind: 0, up_to_date: true });
  });

  it("pages with next_cursor and filters what the caller may read", async () => {
    const head = (await api("/v1/sync/status")).json.head_cursor;
    for (let i = 0; i < 5; i++) await adjust(1);
    await ctx.database.db.query(
      "select private.emit_event('webhook.endpoint_disabled', jsonb_build_object('id', gen_random_uuid()))",
    );
    const seen: string[] = [];
    let cursor = head;
    let pages = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      const page = await api(`/v1/sync/changes?since=${cursor}&limit=2`);
      pages++;
      seen.push(...page.json.data.map((event: any) => event.topic));
      cursor = page.json.next_cursor;
      if (seen.filter((topic) => topic === "stock.changed").length >= 5 && !page.json.has_more) break;
      if (!page.json.has_more) await new Promise((resolve) => setTimeout(resolve, 200)); // held back elsewhere
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.filter((topic) => topic === "stock.changed")).toHaveLength(5);
    expect(seen).not.toContain("webhook.endpoint_disabled");
    const admin = await api(`/v1/sync/changes?since=${head}&topics=webhook`, "admin");
    expect(admin.json.data.map((event: any) => event.topic)).toEqual(["webhook.endpoint_disabled"]);
    expect((await api(`/v1/sync/changes?since=${head}`, "customer")).status).toBe(403);
    const bad = await api("/v1/sync/changes?since=yesterday");
    expect(bad.status).toBe(422);
    expect(bad.json.errors[0].field).toBe("query.since");
  });

  it("a cursor older than retention answers 410 cursor-expired; the status names the oldest cursor", async () => {
    await ctx.database.db.query("select private.prune_events(interval '0 seconds')");
    const gone = await api("/v1/sync/changes?since=0-0");
    expect(gone.status).toBe(410);
    expect(gone.type).toMatch(/application\/problem\+json/);
    expect(gone.json).toMatchObject({ type: "https://storekeep.dev/problems/cursor-expired", status: 410 });
    expect(gone.json.oldest_cursor).toMatch(/^\d+-\d+$/);
    const status = await api("/v1/sync/status");
    expect(status.json.oldest_cursor).toBe(gone.json.oldest_cursor);
    const fresh = await api(`/v1/sync/changes?since=${status.json.head_cursor}`);
    expect(fresh.status).toBe(200);
  });
});
