import { beforeAll, describe, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { CACHE_TEST_ENV, checkScenario, freshApp, SCENARIOS } from "./helpers/cache.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// A read right after a committed write never answers the old value, for every catalog topic and
// every path a write can take (the in-process cache store here; tests/cache.redis.test.ts runs the
// same matrix through @upstash/redis and the bridge against a real Redis).

const ctx = useTestDatabase();
let app: ReturnType<typeof createTestApp>;
beforeAll(() => {
  app = createTestApp(ctx.db, CACHE_TEST_ENV);
});

describe(`a write is visible to the very next read, on ${engine}`, () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.topic} through ${scenario.path}`, () => checkScenario(app, ctx.db, scenario, freshApp(ctx.db)));
  }
});
