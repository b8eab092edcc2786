import { Readable } from "node:stream";
import { Agent, request as undiciRequest } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_PREFIX, serveApi } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { DEFAULT_BODY_LIMIT } from "../packages/server/src/http/middleware/body-limits.ts";
import { createTestApp, TEST_SECRET } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Early answers (before the body is read) over a real HTTP server and one keep-alive connection.
const ctx = useTestDatabase();

const MB = 1024 * 1024;

describe(`early answers keep a keep-alive connection usable, on ${engine}`, () => {
  let base: string;
  let close: () => Promise<void>;
  let token: string;
  beforeAll(async () => {
    const { app } = createTestApp(ctx.db);
    const { server, port } = await serveApi(app, 0);
    base = `http://127.0.0.1:${port}${FUNCTIONS_PREFIX}/api/v1`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
    token = await mintStaffToken(TEST_SECRET, "admin");
  });
  afterAll(async () => {
    await close?.();
  });

  /** One keep-alive connection at a time, counting how many it opened. */
  function oneConnection() {
    const agent = new Agent({ connections: 1, pipelining: 1, keepAliveTimeout: 30_000 });
    let connections = 0;
    agent.on("connect", () => connections++);
    const send = async (method: string, path: string, body?: string, contentType = "application/json") => {
      const response = await undiciRequest(`${base}${path}`, {
        dispatcher: agent,
        method: method as "GET",
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
        body,
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        connection: response.headers.connection,
        contentType: response.headers["content-type"],
        json: text ? JSON.parse(text) : undefined,
      };
    };
    return { send, agent, connections: () => connections };
  }

  it("a 2 MB text/plain body gets its 415, and the next request on the same connection succeeds", async () => {
    const { send, agent, connections } = oneConnection();
    try {
      for (let round = 0; round < 5; round++) {
        const early = await send("POST", "/products/bulk", "x".repeat(2 * MB), "text/plain");
        expect(early.status).toBe(415);
        expect(early.contentType).toBe("application/problem+json");
        expect(early.connection).not.toBe("close");
        const next = await send("GET", "/locations");
        expect(next.status).toBe(200);
      }
      expect(connections()).toBe(1);
    } finally {
      await agent.close();
    }
  });

  it("a bad path parameter with a large body gets its 422 on the same connection, as does a 401", async () => {
    const { send, agent, connections } = oneConnection();
    try {
      const body = JSON.stringify({ title: "x".repeat(MB / 2) });
      expect((await send("PATCH", "/products/not-a-uuid", body)).status).toBe(422);
      expect((await send("GET", "/locations")).status).toBe(200);
      const anonymous = await undiciRequest(`${base}/products`, {
        dispatcher: agent,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(anonymous.statusCode).toBe(401);
      await anonymous.body.text();
      expect((await send("GET", "/locations")).status).toBe(200);
      expect(connections()).toBe(1);
    } finally {
      await agent.close();
    }
  });

  it("a body over its route group's limit gets 413 problem+json and Connection: close; the client goes on", async () => {
    const { send, agent } = oneConnection();
    try {
      const over = await send("POST", "/products", "x".repeat(DEFAULT_BODY_LIMIT + 1));
      expect(over.status).toBe(413);
      expect(over.contentType).toBe("application/problem+json");
      expect(over.json).toMatchObject({ type: "https://storekeep.dev/problems/payload-too-large", max_bytes: MB });
      expect(over.connection).toBe("close");
      expect((await send("GET", "/locations")).status).toBe(200);
      // The bulk group takes more than the default: 2 MB is under its limit (a 415, not a 413).
      expect((await send("POST", "/products/bulk", "x".repeat(2 * MB), "text/plain")).status).toBe(415);
    } finally {
      await agent.close();
    }
  });

  it("a chunked body with no length is held to the same limit", async () => {
    const { agent } = oneConnection();
    try {
      const chunks = async function* () {
        for (let i = 0; i < 3; i++) yield new Uint8Array(MB / 2 + 1);
      };
      const response = await undiciRequest(`${base}/products`, {
        dispatcher: agent,
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: Readable.from(chunks()),
      });
      expect(response.statusCode).toBe(413);
      await response.body.text();
    } finally {
      await agent.close();
    }
  });
});
