import { describe, expect, it } from "vitest";
import { mintStaffToken, mintToken } from "../packages/local/src/tokens.ts";
import { TEST_SECRET } from "./helpers/app.ts";
import { createVariants, uniqueSku } from "./helpers/inventory.ts";
import { collector, sleep, subscribe, supabaseClient, useLocalStack } from "./helpers/realtime.ts";

// postgres_changes through the local Realtime endpoint with the real supabase-js client: changes
// made through the API (or as the owner) reach subscribers filtered by the server and by each
// subscriber's row level security.
const ctx = useLocalStack();

async function adjust(sku: string, delta: number) {
  const token = await mintStaffToken(TEST_SECRET, "staff");
  const response = await fetch(`${ctx.stack.url}/v1/inventory/adjust`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ sku, location_code: "main", delta, kind: delta > 0 ? "receipt" : "damage" }),
  });
  expect(response.status).toBe(201);
}

async function variants(count: number) {
  const skus = Array.from({ length: count }, () => uniqueSku("RT"));
  const ids = await createVariants(ctx.database.db, skus);
  return skus.map((sku, index) => ({ sku, id: ids[index] as string }));
}

async function clientAs(role: "viewer" | "staff" | "admin") {
  return supabaseClient(ctx.stack, { accessToken: await mintStaffToken(TEST_SECRET, role) });
}

describe("postgres_changes (real supabase-js against the local stack)", () => {
  it("an adjustment through the API reaches a stock_levels subscriber with the new available", async () => {
    const [variant] = await variants(1);
    const client = await clientAs("viewer");
    const received = collector<any>();
    const channel = client
      .channel("stock")
      .on("postgres_changes", { event: "UPDATE", schema: "public", table: "stock_levels" }, (payload) =>
        received.push(payload),
      );
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    await adjust(variant?.sku as string, 7);
    await received.until(1);
    const change = received.items.find((item) => item.new.variant_id === variant?.id);
    expect(change).toMatchObject({ schema: "public", table: "stock_levels", eventType: "UPDATE", errors: null });
    expect(change.new).toMatchObject({ variant_id: variant?.id, on_hand: 7, reserved: 0, available: 7 });
    expect(change.old).toEqual({ variant_id: variant?.id, location_id: change.new.location_id });
    expect(Date.parse(change.commit_timestamp)).not.toBeNaN();
    await client.removeAllChannels();
  });

  it("a filtered subscription receives only its rows (eq, neq, in, gt, lte)", async () => {
    const [a, b, c] = await variants(3);
    const client = await clientAs("viewer");
    const byFilter: Record<string, ReturnType<typeof collector<any>>> = {};
    const filters = {
      eq: `variant_id=eq.${a?.id}`,
      in: `variant_id=in.(${a?.id},${c?.id})`,
      gt: "on_hand=gt.50",
      lte: "on_hand=lte.2",
      neq: `variant_id=neq.${a?.id}`,
    };
    let channel = client.channel("filters");
    for (const [name, filter] of Object.entries(filters)) {
      const items = collector<any>();
      byFilter[name] = items;
      // UPDATE only: the levels' INSERTs (made with the variants) may still be in flight.
      channel = channel.on(
        "postgres_changes",
        { event: "UPDATE", schema: "public", table: "stock_levels", filter },
        (payload) => items.push(payload),
      );
    }
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    await adjust(a?.sku as string, 1); // a: 1
    await adjust(b?.sku as string, 60); // b: 60
    await adjust(c?.sku as string, 5); // c: 5
    await sleep(500);
    const ours = new Set([a?.id, b?.id, c?.id]);
    const seen = (name: string) =>
      byFilter[name]?.items
        .filter((item) => ours.has(item.new.variant_id))
        .map((item) => [item.new.variant_id, item.new.on_hand]);
    expect(seen("eq")).toEqual([[a?.id, 1]]);
    expect(seen("in")).toEqual([
      [a?.id, 1],
      [c?.id, 5],
    ]);
    expect(seen("gt")).toEqual([[b?.id, 60]]);
    expect(seen("lte")).toEqual([[a?.id, 1]]);
    expect(seen("neq")).toEqual([
      [b?.id, 60],
      [c?.id, 5],
    ]);
    await client.removeAllChannels();
  });

  it("a subscriber receives exactly the rows its role may select (viewer vs admin on user_roles; a customer on stock)", async () => {
    const viewer = await clientAs("viewer");
    const admin = await clientAs("admin");
    const customer = await supabaseClient(ctx.stack, {
      accessToken: await mintToken({ secret: TEST_SECRET, sub: crypto.randomUUID() }),
    });
    const seenBy = { viewer: collector<any>(), admin: collector<any>(), customer: collector<any>() };
    const channels = [
      viewer
        .channel("roles")
        .on("postgres_changes", { event: "*", schema: "public", table: "user_roles" }, (p) => seenBy.viewer.push(p)),
      admin
        .channel("roles")
        .on("postgres_changes", { event: "*", schema: "public", table: "user_roles" }, (p) => seenBy.admin.push(p)),
      customer
        .channel("stock")
        .on("postgres_changes", { event: "*", schema: "public", table: "stock_levels" }, (p) =>
          seenBy.customer.push(p),
        ),
    ];
    for (const channel of channels) expect((await subscribe(channel)).status).toBe("SUBSCRIBED");

    const userId = crypto.randomUUID();
    await ctx.database.db.query("insert into auth.users (id, email) values ($1, $2)", [
      userId,
      `${userId}@example.com`,
    ]);
    await ctx.database.db.query("insert into public.user_roles (user_id, app_role) values ($1, 'staff')", [userId]);
    const [variant] = await variants(1);
    await adjust(variant?.sku as string, 3);

    await seenBy.admin.until(1);
    await sleep(500);
    expect(seenBy.admin.items.map((item) => [item.eventType, item.new.user_id])).toEqual([["INSERT", userId]]);
    expect(seenBy.viewer.items).toEqual([]);
    expect(seenBy.customer.items).toEqual([]);
    for (const client of [viewer, admin, customer]) await client.removeAllChannels();
  });

  it("a large row arrives whole", async () => {
    const client = await clientAs("viewer");
    const received = collector<any>();
    const channel = client
      .channel("products")
      .on("postgres_changes", { event: "INSERT", schema: "public", table: "products" }, (payload) =>
        received.push(payload),
      );
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    const description = "x".repeat(100_000); // the largest description the catalog allows, far past NOTIFY's 8000 bytes
    await ctx.database.db.query("insert into public.products (handle, title, description) values ($1, 'Big', $2)", [
      `big-${Date.now()}`,
      description,
    ]);
    const [change] = await received.until(1);
    expect(change.new.description).toHaveLength(100_000);
    await client.removeAllChannels();
  });

  it("refuses at join a forged token, an expired one, and a table outside the publication", async () => {
    const forged = await supabaseClient(ctx.stack, {
      accessToken: await mintToken({
        secret: "not-the-project-secret-but-long-enough-to-sign",
        sub: crypto.randomUUID(),
        appRole: "owner",
      }),
    });
    const expired = await supabaseClient(ctx.stack, {
      accessToken: await mintToken({
        secret: TEST_SECRET,
        sub: crypto.randomUUID(),
        appRole: "owner",
        expiresIn: Math.floor(Date.now() / 1000) - 60,
      }),
    });
    const viewer = await clientAs("viewer");
    const binding = { event: "*", schema: "public", table: "stock_levels" } as const;
    const forgedResult = await subscribe(forged.channel("f").on("postgres_changes", binding, () => {}));
    const expiredResult = await subscribe(expired.channel("e").on("postgres_changes", binding, () => {}));
    const privateTable = await subscribe(
      viewer.channel("p").on("postgres_changes", { event: "*", schema: "private", table: "events" }, () => {}),
    );
    expect(forgedResult.status).toBe("CHANNEL_ERROR");
    expect(forgedResult.error?.message).toMatch(/signature/);
    expect(expiredResult.status).toBe("CHANNEL_ERROR");
    expect(expiredResult.error?.message).toMatch(/expired/);
    expect(privateTable.status).toBe("CHANNEL_ERROR");
    for (const client of [forged, expired, viewer]) await client.removeAllChannels();
  });
});
