import pg from "pg";
import { describe, expect, it } from "vitest";
import { cacheRules } from "../packages/server/src/app.ts";
import { catalogEventTypes } from "../packages/server/src/domains/catalog/event-types.ts";
import { imageEventTypes } from "../packages/server/src/domains/images/event-types.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

// The invalidation rules are one table in code (domains/<name>/cache.ts, gathered in app.ts); the
// database counts the topics that have families. A catalog topic without a rule, or a database
// list that disagrees with the code, fails here.

const ctx = useTestDatabase();

describe(`cache invalidation rules on ${engine}`, () => {
  it("every catalog and image topic has exactly one rule, and every rule names a known topic", () => {
    const topics = [...catalogEventTypes, ...imageEventTypes].map((type) => type.topic).sort();
    const ruled = cacheRules.map((rule) => rule.topic).sort();
    expect(topics.filter((topic) => !ruled.includes(topic))).toEqual([]);
    expect(ruled).toEqual([...new Set(ruled)]);
    expect(ruled.filter((topic) => !topics.includes(topic))).toEqual([]);
  });

  it("every topic that retires a family is counted by the database, with the same product field", async () => {
    const { rows } = await ctx.db.query<{ topic: string; product_field: string | null }>(
      "select topic, product_field from private.cache_topics order by topic",
    );
    const fromCode = cacheRules
      .filter((rule) => rule.families.length > 0)
      .map((rule) => ({ topic: rule.topic, product_field: rule.product ?? null }))
      .sort((a, b) => (a.topic < b.topic ? -1 : 1));
    expect(rows).toEqual(fromCode);
  });

  it("an event of every counted topic moves its generation (the trigger's filter admits them all)", async () => {
    const moved = await ctx.db
      .transaction(async (tx) => {
        // Fire the deferred trigger now, then roll everything back.
        await tx.query("set constraints private.events_after_insert_bump_cache_generations immediate");
        const before = await tx.query<{ key: string; generation: string }>(
          "select key, sum(generation)::bigint as generation from private.cache_generations group by key",
        );
        await tx.query(
          `insert into private.events (topic, payload)
           select t.topic, jsonb_build_object('id', gen_random_uuid(), 'product_id', gen_random_uuid())
             from private.cache_topics t`,
        );
        const after = await tx.query<{ key: string; generation: string }>(
          "select key, sum(generation)::bigint as generation from private.cache_generations group by key",
        );
        const old = new Map(before.rows.map((row) => [row.key, Number(row.generation)]));
        const { rows } = await tx.query<{ topic: string }>("select topic from private.cache_topics order by topic");
        const result = rows.map(({ topic }) => ({
          topic,
          moved: Number(after.rows.find((row) => row.key === topic)?.generation ?? 0) === (old.get(topic) ?? 0) + 1,
        }));
        throw Object.assign(new Error("roll back"), { result });
      })
      .catch((error: { result?: { topic: string; moved: boolean }[] }) => error.result);
    expect(moved?.length).toBeGreaterThan(0);
    expect(moved?.filter((row) => !row.moved)).toEqual([]);
  });

  it("a rule naming a product field names one its topic's payload has", () => {
    for (const rule of cacheRules.filter((each) => each.product)) {
      const type = [...catalogEventTypes, ...imageEventTypes].find((each) => each.topic === rule.topic);
      const shape = (type?.data as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
      expect({ topic: rule.topic, has: rule.product ? rule.product in shape : false }).toEqual({
        topic: rule.topic,
        has: true,
      });
    }
  });

  it("a rolled-back write moves no generation; a committed one moves its topic and product once", async () => {
    const read = async () =>
      Object.fromEntries(
        (
          await ctx.db.query<{ key: string; generation: string }>(
            "select key, sum(generation)::bigint as generation from private.cache_generations group by key",
          )
        ).rows.map((row) => [row.key, Number(row.generation)]),
      );
    const { rows } = await ctx.db.query<{ id: string }>(
      "select id from public.products where deleted_at is null limit 1",
    );
    const id = rows[0]?.id;
    const before = await read();
    await ctx.db
      .transaction(async (tx) => {
        await tx.query("update public.products set title = title || ' x' where id = $1", [id]);
        throw new Error("roll back");
      })
      .catch(() => undefined);
    expect(await read()).toEqual(before);
    await ctx.db.transaction(async (tx) => {
      await tx.query("update public.products set title = title || ' y' where id = $1", [id]);
      await tx.query("update public.products set title = title || ' z' where id = $1", [id]);
    });
    const after = await read();
    expect(after["product.updated"]).toBe((before["product.updated"] ?? 0) + 1);
    expect(after[`product:${id}`]).toBe((before[`product:${id}`] ?? 0) + 1);
    // Stock moves are not catalog writes: they leave every generation alone.
    expect(Object.keys(after).some((key) => key.startsWith("stock."))).toBe(false);
  });
});

describe.runIf(onPostgres)("cache generations under concurrent writers on postgres", () => {
  it("two writers of the same topic on different connections do not wait on one counter row", async () => {
    const { rows } = await ctx.db.query<{ id: string }>(
      "select id from public.products where deleted_at is null order by id limit 2",
    );
    const [first, second] = rows.map((row) => row.id);
    if (!first || !second) throw new Error("needs two products");
    const topicSum = async () =>
      Number(
        (
          await ctx.db.query<{ sum: string }>(
            "select coalesce(sum(generation), 0) as sum from private.cache_generations where key = 'product.updated'",
          )
        ).rows[0]?.sum,
      );
    const before = await topicSum();
    const connect = async () => {
      const client = new pg.Client({ connectionString: ctx.url });
      await client.connect();
      const pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid ?? 0;
      return { client, shard: pid % 8 };
    };
    const holder = await connect();
    const clients = [holder.client];
    try {
      // The second writer's backend counts on another shard than the first's.
      let writer = await connect();
      clients.push(writer.client);
      while (writer.shard === holder.shard) {
        writer = await connect();
        clients.push(writer.client);
      }
      // The first writer bumps now (not at commit) and keeps its counter row locked.
      await holder.client.query("begin");
      await holder.client.query("update public.products set description = 'held' where id = $1", [first]);
      await holder.client.query("set constraints private.events_after_insert_bump_cache_generations immediate");
      // The second commits meanwhile: with one counter row per topic it would wait for the first.
      await writer.client.query("set lock_timeout = '2s'");
      await writer.client.query("update public.products set description = 'not held' where id = $1", [second]);
      expect(await topicSum()).toBe(before + 1);
      await holder.client.query("commit");
      expect(await topicSum()).toBe(before + 2);
    } finally {
      for (const client of clients) await client.end();
    }
  });
});
