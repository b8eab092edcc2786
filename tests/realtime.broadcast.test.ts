import type { RealtimeChannel } from "@supabase/supabase-js";
import { describe, expect, it } from "vitest";
import { mintStaffToken, mintToken } from "../packages/local/src/tokens.ts";
import { eventTypes } from "../packages/server/src/app.ts";
import { TEST_SECRET } from "./helpers/app.ts";
import { collector, sleep, subscribe, supabaseClient, useLocalStack } from "./helpers/realtime.ts";

// Broadcast, Broadcast from Database on private channels, and presence, through the local
// Realtime endpoint with the real supabase-js client.
const ctx = useLocalStack();

const clientAs = async (role: "viewer" | "staff", vsn?: "1.0.0" | "2.0.0") =>
  supabaseClient(ctx.stack, { accessToken: await mintStaffToken(TEST_SECRET, role), vsn });

async function adjust(delta: number) {
  const token = await mintStaffToken(TEST_SECRET, "staff");
  const response = await fetch(`${ctx.stack.url}/v1/inventory/adjust`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ sku: "TS-ORG-M", location_code: "main", delta, kind: delta > 0 ? "receipt" : "damage" }),
  });
  expect(response.status).toBe(201);
}

describe("Broadcast from Database on private channels", () => {
  it("stock.changed on inventory:main reaches a staff subscriber, and the channel refuses a viewer and anon", async () => {
    const staff = await clientAs("staff");
    const viewer = await clientAs("viewer");
    const anon = await supabaseClient(ctx.stack);
    const received = collector<any>();
    const staffChannel = staff
      .channel("inventory:main", { config: { private: true } })
      .on("broadcast", { event: "stock.changed" }, (message) => received.push(message));
    expect((await subscribe(staffChannel)).status).toBe("SUBSCRIBED");
    const viewerJoin = await subscribe(viewer.channel("inventory:main", { config: { private: true } }));
    const anonJoin = await subscribe(anon.channel("inventory:main", { config: { private: true } }));
    expect(viewerJoin.status).toBe("CHANNEL_ERROR");
    expect(viewerJoin.error?.message).toMatch(/Unauthorized/);
    expect(anonJoin.status).toBe("CHANNEL_ERROR");

    await adjust(4);
    const [message] = await received.until(1);
    expect(message).toMatchObject({ type: "broadcast", event: "stock.changed" });
    expect(message.payload).toMatchObject({
      topic: "stock.changed",
      data: { sku: "TS-ORG-M", location_code: "main", after: { on_hand: message.payload.data.before.on_hand + 4 } },
    });
    expect(message.payload.cursor).toMatch(/^\d+-\d+$/);
    // One source: the data is exactly what the event catalogue's schema for the topic describes.
    const schema = eventTypes.find((type) => type.topic === "stock.changed")?.data;
    const parsed = schema?.safeParse(message.payload.data);
    expect(parsed?.success).toBe(true);
    expect(parsed?.data).toEqual(message.payload.data);
    expect(message.payload.event_id).toBe(Number(message.payload.cursor.split("-")[1]));
    // A public channel of the same name is another channel: database broadcasts are private.
    const otherStaff = await clientAs("staff");
    const publicReceived = collector<any>();
    const publicChannel = otherStaff
      .channel("inventory:main")
      .on("broadcast", { event: "stock.changed" }, (m) => publicReceived.push(m));
    expect((await subscribe(publicChannel)).status).toBe("SUBSCRIBED");
    await adjust(1);
    await received.until(2);
    expect(publicReceived.items).toEqual([]);
    for (const client of [staff, otherStaff, viewer, anon]) await client.removeAllChannels();
  });

  it("staff may not send broadcasts into a database channel (REST or socket)", async () => {
    const token = await mintStaffToken(TEST_SECRET, "staff");
    const response = await fetch(`${ctx.stack.supabaseUrl}/realtime/v1/api/broadcast`, {
      method: "POST",
      headers: { apikey: ctx.stack.anonKey, authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        messages: [{ topic: "inventory:main", event: "stock.changed", payload: {}, private: true }],
      }),
    });
    expect(response.status).toBe(403);
  });
});

describe.each(["1.0.0", "2.0.0"] as const)("broadcast between two clients over protocol %s", (vsn) => {
  it("delivers to the other client, to the sender only with self, and acknowledges with ack", async () => {
    const alice = await clientAs("staff", vsn);
    const bob = await clientAs("staff", vsn);
    const room = `room-${vsn}-${Date.now()}`;
    const aliceGot = collector<any>();
    const bobGot = collector<any>();
    const aliceChannel = alice
      .channel(room, { config: { broadcast: { self: true, ack: true } } })
      .on("broadcast", { event: "cursor" }, (m) => aliceGot.push(m));
    const bobChannel = bob
      .channel(room, { config: { broadcast: { self: false, ack: false } } })
      .on("broadcast", { event: "cursor" }, (m) => bobGot.push(m));
    expect((await subscribe(aliceChannel)).status).toBe("SUBSCRIBED");
    expect((await subscribe(bobChannel)).status).toBe("SUBSCRIBED");

    expect(await aliceChannel.send({ type: "broadcast", event: "cursor", payload: { x: 1 } })).toBe("ok");
    await bobChannel.send({ type: "broadcast", event: "cursor", payload: { x: 2 } });
    await bobGot.until(1);
    await aliceGot.until(2);
    await sleep(200);
    expect(bobGot.items.map((m) => m.payload)).toEqual([{ x: 1 }]);
    expect(aliceGot.items.map((m) => m.payload)).toEqual([{ x: 1 }, { x: 2 }]);
    await alice.removeAllChannels();
    await bob.removeAllChannels();
  });
});

describe("REST broadcast", () => {
  it("POST /realtime/v1/api/broadcast and channel.httpSend reach subscribers", async () => {
    const listener = await clientAs("staff");
    const got = collector<any>();
    const channel = listener.channel("rest-room").on("broadcast", { event: "*" }, (m) => got.push(m));
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    const response = await fetch(`${ctx.stack.supabaseUrl}/realtime/v1/api/broadcast`, {
      method: "POST",
      headers: { apikey: ctx.stack.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ topic: "rest-room", event: "hello", payload: { n: 1 } }] }),
    });
    expect(response.status).toBe(202);
    const sender = await clientAs("staff");
    expect(await sender.channel("rest-room").httpSend("again", { n: 2 })).toEqual({ success: true });
    await got.until(2);
    expect(got.items.map((m) => [m.event, m.payload])).toEqual([
      ["hello", { n: 1 }],
      ["again", { n: 2 }],
    ]);
    const refused = await fetch(`${ctx.stack.supabaseUrl}/realtime/v1/api/broadcast`, {
      method: "POST",
      headers: { apikey: "forged", "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ topic: "rest-room", event: "hello", payload: {} }] }),
    });
    expect(refused.status).toBe(401);
    await listener.removeAllChannels();
  });
});

describe("presence", () => {
  it("shows two clients joining and one leaving", async () => {
    const one = await clientAs("staff");
    const two = await clientAs("staff");
    const watcher = await clientAs("viewer");
    const topic = `presence-${Date.now()}`;
    const joins = collector<string>();
    const leaves = collector<string>();
    const watch = watcher
      .channel(topic)
      .on("presence", { event: "join" }, ({ key }) => joins.push(key))
      .on("presence", { event: "leave" }, ({ key }) => leaves.push(key));
    expect((await subscribe(watch)).status).toBe("SUBSCRIBED");
    const channels: RealtimeChannel[] = [];
    for (const [client, key] of [
      [one, "ana"],
      [two, "ben"],
    ] as const) {
      const channel = client.channel(topic, { config: { presence: { key } } });
      expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
      expect(await channel.track({ name: key })).toBe("ok");
      channels.push(channel);
    }
    await joins.until(2);
    expect(Object.keys(watch.presenceState()).sort()).toEqual(["ana", "ben"]);
    expect(watch.presenceState().ana?.[0]).toMatchObject({ name: "ana" });
    await channels[1]?.untrack();
    await leaves.until(1);
    expect(leaves.items).toEqual(["ben"]);
    expect(Object.keys(watch.presenceState())).toEqual(["ana"]);
    // A late joiner gets the current state at once.
    const late = await clientAs("viewer");
    const lateChannel = late.channel(topic);
    const synced = collector<void>();
    lateChannel.on("presence", { event: "sync" }, () => synced.push());
    expect((await subscribe(lateChannel)).status).toBe("SUBSCRIBED");
    await synced.until(1);
    expect(Object.keys(lateChannel.presenceState())).toEqual(["ana"]);
    await one.removeAllChannels();
    await leaves.until(2);
    expect(leaves.items).toEqual(["ben", "ana"]);
    for (const client of [two, watcher, late]) await client.removeAllChannels();
  });
});

describe("tokens on a live channel", () => {
  it("answers heartbeats and takes a refreshed access token; an expired one closes the channel", async () => {
    const client = await clientAs("staff");
    const channel = client.channel(`hb-${Date.now()}`);
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    const latency = collector<string>();
    client.realtime.onHeartbeat((status) => latency.push(status));
    client.realtime.sendHeartbeat();
    await latency.until(2);
    expect(latency.items).toContain("ok");

    const closed = collector<void>();
    channel.on("system", {}, () => closed.push());
    const shortLived = await mintToken({
      secret: TEST_SECRET,
      sub: crypto.randomUUID(),
      appRole: "staff",
      expiresIn: Math.floor(Date.now() / 1000) + 2,
    });
    await client.realtime.setAuth(shortLived);
    await closed.until(1, 6000);
    expect(closed.items.length).toBe(1);
    await client.removeAllChannels();
  });
});
