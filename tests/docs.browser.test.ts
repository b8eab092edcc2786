import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";

// The API reference renders in a real browser with no network beyond this machine: Debian's
// chromium, headless, every request that leaves 127.0.0.1 aborted and recorded. The page is served
// under /functions/v1 as locally and on Supabase, so a URL that ignores where the page is fails.
// Without a browser the test is skipped, except in CI (.ci/run installs chromium), where it fails.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(onPostgres || (!haveBrowser && !process.env.CI))("the API reference page in headless Chromium", () => {
  const ctx = useTestDatabase();
  let base = "";
  let close = async () => {};

  beforeAll(async () => {
    const { app } = createTestApp(ctx.db);
    // What Supabase (and `npm start`) do: the function sees its path without /functions/v1.
    const server = serve({
      fetch: (request) => {
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/functions\/v1\//, "/");
        return app.fetch(new Request(url, request));
      },
      hostname: "127.0.0.1",
      port: 0,
    });
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1/api/v1`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  it("renders every operation of the OpenAPI document from our own assets, offline", async () => {
    expect(haveBrowser, `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`).toBe(true);
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
    const methods = new Set(["get", "put", "post", "delete", "patch", "options", "head", "trace"]);
    const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => methods.has(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.length).toBeGreaterThan(20);

    const profile = await mkdtemp(join(tmpdir(), "storekeep-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
    try {
      const outside: string[] = [];
      const failed: string[] = [];
      const errors: string[] = [];
      await browser.route("**/*", (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === "127.0.0.1") return route.continue();
        outside.push(url.href);
        return route.abort();
      });
      const page = await browser.newPage();
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("response", (response) => {
        if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
      });

      const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
      expect(response?.status()).toBe(200);
      await page.waitForSelector(".opblock", { timeout: 60_000 });
      // Every operation of the document is on the page (some twice: once under each of their tags).
      const rendered = async () =>
        page.$$eval(".opblock", (blocks) =>
          blocks.map((block) => {
            const method = block.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "";
            const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
            return `${method} ${path}`;
          }),
        );
      await page.waitForFunction((n) => document.querySelectorAll(".opblock").length >= n, operations.length, {
        timeout: 60_000,
      });
      const shown = new Set(await rendered());
      expect(operations.filter((operation) => !shown.has(operation))).toEqual([]);
      expect(shown.has("POST /api/v1/inventory/adjust")).toBe(true);
      expect(await page.locator(".info .title").textContent()).toContain("Storekeep API");
      expect({ outside, failed, errors }).toEqual({ outside: [], failed: [], errors: [] });
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
