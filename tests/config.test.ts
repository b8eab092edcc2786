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
});
