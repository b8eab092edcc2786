import { LOCAL_DEFAULTS } from "../../packages/local/src/stack.ts";
import { DEMO_USERS, mintStaffToken } from "../../packages/local/src/tokens.ts";
import { createApp } from "../../packages/server/src/app.ts";
import type { AppRole } from "../../packages/server/src/http/auth.ts";
import { createServices, type ServiceOptions } from "../../packages/server/src/main.ts";
import { LOCAL_JWT_SECRET, loadConfig } from "../../packages/server/src/platform/config.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";

export const TEST_SECRET = LOCAL_JWT_SECRET;
export { DEMO_USERS };

/** The real app on a test database, with a `request` that speaks JSON and carries a role's token. */
export function createTestApp(db: Db, env: Record<string, string> = {}, options: Omit<ServiceOptions, "db"> = {}) {
  // Suites fire hundreds of requests as one demo user: rate limits stay off unless a test turns
  // them on (tests/rate-limit.test.ts).
  const config = loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", RATE_LIMITS_ENABLED: "false", ...env });
  const services = createServices(config, { ...options, db });
  const app = createApp(services);

  async function request(
    method: string,
    path: string,
    options: { as?: AppRole | "anon"; token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    const token =
      options.token ??
      (options.as && options.as !== "anon" ? await mintStaffToken(TEST_SECRET, options.as) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await app.request(`/api${path}`, { method, headers, body });
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  return { app, services, config, request };
}

export type TestResponse = Awaited<ReturnType<ReturnType<typeof createTestApp>["request"]>>;

/** How many responses had each status: `{ 201: 50, 409: 150 }`. */
export function tally(responses: TestResponse[]): Record<number, number> {
  const byStatus: Record<number, number> = {};
  for (const response of responses) byStatus[response.status] = (byStatus[response.status] ?? 0) + 1;
  return byStatus;
}
