import { mkdtemp, readdir, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import sharp from "sharp";
import { createLocalCloudinary, type LocalCloudinary } from "../../packages/local/src/cloudinary/app.ts";
import { localCloudinaryEnv } from "../../packages/local/src/stack.ts";

export const CLOUD = { cloudName: "local", apiKey: "local-key", apiSecret: "local-secret" };

export interface LocalProvider {
  origin: string;
  /** CLOUDINARY_URL and IMAGES_CDN_URL for an API that uses this provider. */
  env: Record<string, string>;
  provider: LocalCloudinary;
  /** Every stored file (bytes and metadata), relative to the store. */
  files(): Promise<string[]>;
  /** The next `count` requests to the provider answer 500, as an outage at the network boundary would. */
  failNext(count: number): void;
  /** Requests the provider received (method and path). */
  requests: string[];
  close(): Promise<void>;
}

/** The local Cloudinary-compatible endpoint on a port of its own, with a fault switch in front. */
export async function startLocalProvider(): Promise<LocalProvider> {
  const root = await mkdtemp(join(tmpdir(), "storekeep-images-"));
  const provider = createLocalCloudinary({ root, ...CLOUD, basePath: "/cloudinary" });
  let failures = 0;
  const requests: string[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      requests.push(`${request.method} ${url.pathname}`);
      if (failures > 0) {
        failures -= 1;
        await request.arrayBuffer().catch(() => undefined);
        return new Response(JSON.stringify({ error: { message: "Internal server error" } }), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      }
      url.pathname = url.pathname.replace(/^\/cloudinary/, "");
      return provider.app.fetch(new Request(url, request));
    },
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    env: localCloudinaryEnv(origin),
    provider,
    requests,
    async files() {
      const entries = await readdir(provider.store.directory, { recursive: true }).catch(() => []);
      return entries.filter((entry) => /\.(bin|json)$/.test(entry)).sort();
    },
    failNext(count) {
      failures = count;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

export type Format = "jpeg" | "png" | "webp" | "avif" | "gif";

/** A real image of this format and size, one colour with a stripe (so the dominant colour is known). */
export async function makeImage(format: Format, width: number, height: number): Promise<Buffer> {
  const stripe = await sharp({
    create: { width: Math.max(1, Math.floor(width / 10)), height, channels: 3, background: { r: 0, g: 0, b: 255 } },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 40 } } })
    .composite([{ input: stripe, left: 0, top: 0 }])
    .toFormat(format)
    .toBuffer();
}
