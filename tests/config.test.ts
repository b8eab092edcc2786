import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../packages/server/src/platform/config.ts";

const secret = "x".repeat(32);

describe("configuration", () => {
  it("parses the environment once into typed settings", () => {
    const config = loadConfig({
      SUPABASE_JWT_SECRET: secret,
      CORS_ORIGINS: "https://a.example, https://b.example",
      DB_POOL_MAX: "4",
    });
    expect(config).toMatchObject({
      jwtSecret: secret,
      corsOrigins: ["https://a.example", "https://b.example"],
      dbPoolMax: 4,
      logLevel: "info",
    });
  });

  it("derives the JWKS URL from SUPABASE_URL and the database from SUPABASE_DB_URL", () => {
    const config = loadConfig({
      SUPABASE_URL: "https://abc.supabase.co",
      SUPABASE_DB_URL: "postgres://u@db:5432/postgres",
    });
    expect(config.jwksUrl).toBe("https://abc.supabase.co/auth/v1/.well-known/jwks.json");
    expect(config.databaseUrl).toBe("postgres://u@db:5432/postgres");
  });

  it("stops with a message naming a missing way to verify tokens", () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/SUPABASE_JWT_SECRET/);
  });

  it("names each invalid setting", () => {
    const attempt = () => loadConfig({ SUPABASE_JWT_SECRET: "short", DATABASE_URL: "not a url", LOG_LEVEL: "loud" });
    expect(attempt).toThrow(/SUPABASE_JWT_SECRET/);
    expect(attempt).toThrow(/DATABASE_URL/);
    expect(attempt).toThrow(/LOG_LEVEL/);
  });

  it("parses rate limits as <requests>/<window> per route group, with documented defaults", () => {
    const defaults = loadConfig({ SUPABASE_JWT_SECRET: secret }).rateLimits;
    expect(defaults).toEqual({
      enabled: true,
      groups: {
        read: { limit: 600, windowSeconds: 60 },
        write: { limit: 120, windowSeconds: 60 },
        checkout: { limit: 30, windowSeconds: 60 },
      },
      writesWhenStoreDown: "allow",
    });
    const custom = loadConfig({
      SUPABASE_JWT_SECRET: secret,
      RATE_LIMIT_READ: "1000/1h",
      RATE_LIMIT_WRITE: " 5 / 10s ",
      RATE_LIMIT_CHECKOUT: "2/1d",
      RATE_LIMIT_WRITES_WHEN_REDIS_DOWN: "refuse",
    }).rateLimits;
    expect(custom.groups).toEqual({
      read: { limit: 1000, windowSeconds: 3600 },
      write: { limit: 5, windowSeconds: 10 },
      checkout: { limit: 2, windowSeconds: 86_400 },
    });
    expect(custom.writesWhenStoreDown).toBe("refuse");
    for (const bad of ["100", "0/1m", "10/0s", "10/2d", "ten/1m", "10/1w"]) {
      expect(() => loadConfig({ SUPABASE_JWT_SECRET: secret, RATE_LIMIT_READ: bad })).toThrow(/RATE_LIMIT_READ/);
    }
  });
});
