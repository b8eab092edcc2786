import { mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import cloudinary from "cloudinary";
import sharp from "sharp";
import { createLocalCloudinary } from "../packages/local/src/cloudinary/app.ts";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS, localCloudinaryEnv } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { LOCAL_JWT_SECRET, loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { compareRows, interleave, printTable, type Row, scratchDatabase } from "./lib.ts";

export const description =
  "image uploads through the API (multipart) next to the same uploads straight to the local endpoint";
export const timeLimitSeconds = 120;

const BUDGET = { ms: 3_000, warmupMs: 500, rounds: 2 };
const CLOUD = { cloudName: "local", apiKey: "local-key", apiSecret: "local-secret" };

export default async function images(): Promise<void> {
  const scratch = await scratchDatabase("images");
  const db = createPostgresDb(scratch.url, { max: 10, applicationName: "storekeep-bench" });
  const root = await mkdtemp(join(tmpdir(), "storekeep-bench-images-"));
  const provider = createLocalCloudinary({ root, ...CLOUD, basePath: "/cloudinary" });
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      url.pathname = url.pathname.replace(/^\/cloudinary/, "");
      return provider.app.fetch(new Request(url, request));
    },
  });
  try {
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await migrate(db);
    const config = loadConfig({
      ...LOCAL_DEFAULTS,
      ...localCloudinaryEnv(origin),
      LOG_LEVEL: "silent",
      RATE_LIMITS_ENABLED: "false",
    });
    const app = createApp(createServices(config, { db }));
    const token = await mintStaffToken(LOCAL_JWT_SECRET, "staff");

    const created = await app.request("/api/v1/products", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Bench", variants: [{ sku: "BENCH-IMG", price_amount: 100, currency: "EUR" }] }),
    });
    const productId = ((await created.json()) as { id: string }).id;
    // Noise, so the JPEG is photo-sized rather than a few bytes of flat colour.
    const bytes = await sharp({
      create: {
        width: 800,
        height: 600,
        channels: 3,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 40 },
      },
    })
      .jpeg({ quality: 80 })
      .toBuffer();
    console.log(
      `a ${bytes.length}-byte 800x600 JPEG per upload; local endpoint at ${origin}; PostgreSQL scratch database`,
    );

    const throughApi = async () => {
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(bytes)], { type: "image/jpeg" }), "photo.jpg");
      const response = await app.request(`/api/v1/products/${productId}/images`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
      if (response.status !== 201) throw new Error(`API upload: HTTP ${response.status} ${await response.text()}`);
      await response.text();
    };
    const agent = new Agent({ keepAlive: true });
    let n = 0;
    const straight = () =>
      new Promise<void>((resolve, reject) => {
        n += 1;
        cloudinary.v2.uploader
          .upload_stream(
            {
              cloud_name: CLOUD.cloudName,
              api_key: CLOUD.apiKey,
              api_secret: CLOUD.apiSecret,
              upload_prefix: `${origin}/cloudinary`,
              agent,
              public_id: `bench/${process.pid}-${n}`,
              allowed_formats: ["jpg", "png", "webp", "avif", "gif"],
              colors: true,
            } as never,
            (error) => (error ? reject(error) : resolve()),
          )
          .end(bytes);
      });

    const rows: Row[] = [];
    for (const concurrency of [1, 8]) {
      const sample = await interleave(throughApi, straight, { ...BUDGET, concurrency });
      rows.push(...compareRows(`API upload c=${concurrency}`, `SDK -> endpoint c=${concurrency}`, sample));
    }
    printTable(
      "Image uploads: POST /products/{id}/images (auth, size and magic-byte checks, SHA-256, reservation,\n" +
        "signed SDK upload to the local endpoint, record + event in one transaction) vs. the same signed SDK\n" +
        "upload straight to the local endpoint (which decodes the image with libvips and stores it), same run;\n" +
        `c = uploads in flight; ops/s per ${BUDGET.ms / 1000} s round (rounds alternate A/B)`,
      rows,
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.close();
    await scratch.drop();
    await rm(root, { recursive: true, force: true });
  }
}
