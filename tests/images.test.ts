import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { imageEventTypes } from "../packages/server/src/domains/images/event-types.ts";
import { destroyQueuedAssets } from "../packages/server/src/domains/images/service.ts";
import { createTestApp, TEST_SECRET } from "./helpers/app.ts";
import { claimsOf, productInput } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { type Format, type LocalProvider, makeImage, startLocalProvider } from "./helpers/images.ts";

// Product images through the real app, the real cloudinary SDK and the local Cloudinary-compatible
// endpoint (a server of its own, whose fault switch stands in for an outage at the network boundary).
const ctx = useTestDatabase();
let local: LocalProvider;
let api: ReturnType<typeof createTestApp>;
const MAX_BYTES = 200_000;

beforeAll(async () => {
  local = await startLocalProvider();
  api = createTestApp(ctx.db, { ...local.env, IMAGES_MAX_BYTES: String(MAX_BYTES) });
});
afterAll(() => local?.close());

type Role = "owner" | "admin" | "manager" | "staff" | "viewer";

/** A multipart request to the app, as a browser's FormData would send it. */
async function postFile(
  path: string,
  file: { bytes: Uint8Array; name: string; type?: string } | undefined,
  options: { as?: Role | "anon"; fields?: Record<string, string>; headers?: Record<string, string> } = {},
) {
  const form = new FormData();
  if (file) form.append("file", new Blob([new Uint8Array(file.bytes)], { type: file.type ?? "image/jpeg" }), file.name);
  for (const [key, value] of Object.entries(options.fields ?? {})) form.append(key, value);
  const headers: Record<string, string> = { ...options.headers };
  const as = options.as ?? "staff";
  if (as !== "anon") headers.authorization = `Bearer ${await mintStaffToken(TEST_SECRET, as)}`;
  const response = await api.app.request(`/api${path}`, { method: "POST", body: form, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
}

async function newProduct(status: "draft" | "published" = "draft"): Promise<string> {
  const created = await api.request("POST", "/v1/products", { as: "manager", body: productInput({ status }) });
  expect(created.status, created.text).toBe(201);
  return created.json.id;
}

const count = async (sql: string, params: unknown[] = []) =>
  Number((await ctx.db.query<{ n: string }>(`select count(*) as n from ${sql}`, params)).rows[0]?.n);
const imageRows = (productId: string) => count("public.product_images where product_id = $1", [productId]);
const imageEvents = (productId: string) =>
  count("private.events where topic like 'product_image.%' and payload ->> 'product_id' = $1", [productId]);

function expectProblem(response: { status: number; headers: Headers; json: any }, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(response.json.status).toBe(status);
}

/** Runs the images.destroy job with every queued deletion and reservation due now. */
async function runDestroyJob() {
  await ctx.db.query("update private.image_deletions set next_attempt_at = now() - interval '1 second'");
  return destroyQueuedAssets(ctx.db, api.services.images);
}

describe(`product images through the API on ${engine}`, () => {
  it.each([
    ["jpeg", "jpg", "image/jpeg"],
    ["png", "png", "image/png"],
    ["webp", "webp", "image/webp"],
    ["avif", "avif", "image/avif"],
    ["gif", "gif", "image/gif"],
  ] as [Format, string, string][])(
    "uploads a %s; metadata is the real image's; URLs are the provider's",
    async (format, reported, type) => {
      const productId = await newProduct();
      const bytes = await makeImage(format, 480, 320);
      const before = (await local.files()).length;
      const response = await postFile(
        `/v1/products/${productId}/images`,
        { bytes, name: `photo.${reported}`, type },
        {
          fields: { alt_text: "A red thing" },
        },
      );
      expect(response.status, response.text).toBe(201);
      const image = response.json;
      expect(image).toMatchObject({
        product_id: productId,
        position: 0,
        is_primary: true,
        alt_text: "A red thing",
        format: reported,
        width: 480,
        height: 320,
        bytes: bytes.length,
        checksum: createHash("sha256").update(bytes).digest("hex"),
        version: 1,
      });
      expect(image.placeholder).toMatch(/^#[0-9a-f]{6}$/);
      expect(image.public_id).toMatch(new RegExp(`^storekeep/products/${productId}/[0-9a-f]{20}$`));
      expect(response.headers.get("etag")).toBe('"1"');

      // Stored at the provider: exactly the bytes sent.
      expect((await local.files()).length).toBe(before + 2);
      const original = await fetch(image.urls.original);
      expect(Buffer.from(await original.arrayBuffer()).equals(bytes)).toBe(true);

      // Delivery URLs from the SDK's helper, on the configured CDN domain (the local endpoint here).
      const cdn = `${local.origin}/cloudinary/local/image/upload/`;
      expect(image.urls.optimized).toBe(`${cdn}f_auto,q_auto/v${image.asset_version}/${image.public_id}`);
      expect(image.urls.crops.thumbnail).toBe(
        `${cdn}c_fill,g_auto,h_150,w_150/f_auto,q_auto/v${image.asset_version}/${image.public_id}`,
      );
      expect(image.urls.srcset.split(", ").map((entry: string) => entry.split(" ")[1])).toEqual(["320w", "480w"]);
      const thumb = await sharp(Buffer.from(await (await fetch(image.urls.crops.thumbnail)).arrayBuffer())).metadata();
      expect([thumb.width, thumb.height]).toEqual([150, 150]);

      // The row and its event.
      expect(await imageRows(productId)).toBe(1);
      const events = await ctx.db.query<{ topic: string; payload: unknown }>(
        "select topic, payload from private.events where payload ->> 'product_id' = $1 and topic like 'product_image.%'",
        [productId],
      );
      expect(events.rows.map((row) => row.topic)).toEqual(["product_image.created"]);
    },
  );

  it("refuses a script named .jpg (415) and an oversize file (413) as problems, storing nothing anywhere", async () => {
    const productId = await newProduct();
    const requestsBefore = local.requests.length;
    const filesBefore = await local.files();
    const reservationsBefore = await count("private.image_uploads");

    const script = await postFile(`/v1/products/${productId}/images`, {
      bytes: new TextEncoder().encode("<?php system($_GET['c']); ?>"),
      name: "innocent.jpg",
      type: "image/jpeg",
    });
    expectProblem(script, 415);
    expect(script.json.errors).toEqual([{ field: "body.file", message: expect.stringContaining("jpg") }]);
    // An SVG (a format with scripts) and a truncated PNG signature are no better.
    const svg = await postFile(`/v1/products/${productId}/images`, {
      bytes: new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
      name: "x.png",
    });
    expectProblem(svg, 415);

    const big = await sharp({ create: { width: 600, height: 600, channels: 3, background: "#808080" } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(MAX_BYTES);
    const oversize = await postFile(`/v1/products/${productId}/images`, { bytes: big, name: "big.png" });
    expectProblem(oversize, 413);
    expect(oversize.json.max_bytes).toBe(MAX_BYTES);
    // Far past the limit, the body is cut off while it streams in.
    const huge = await postFile(`/v1/products/${productId}/images`, {
      bytes: new Uint8Array(MAX_BYTES * 3),
      name: "a.jpg",
    });
    expectProblem(huge, 413);

    expect(await imageRows(productId)).toBe(0);
    expect(await imageEvents(productId)).toBe(0);
    expect(await count("private.image_uploads")).toBe(reservationsBefore);
    expect(local.requests.length).toBe(requestsBefore);
    expect(await local.files()).toEqual(filesBefore);
  });

  it("a failed provider call (the endpoint answers 500) leaves no row, no event, and its asset is cleaned up", async () => {
    const productId = await newProduct();
    const bytes = await makeImage("jpeg", 100, 100);
    local.failNext(1);
    const failed = await postFile(`/v1/products/${productId}/images`, { bytes, name: "a.jpg" });
    expectProblem(failed, 503);
    expect(await imageRows(productId)).toBe(0);
    expect(await count("public.product_image_versions where product_id = $1", [productId])).toBe(0);
    expect(await imageEvents(productId)).toBe(0);

    // Whether or not the provider kept anything, the reservation expires into a deletion.
    const reserved = await ctx.db.query<{ public_id: string }>(
      "select public_id from private.image_uploads where product_id = $1",
      [productId],
    );
    expect(reserved.rows).toHaveLength(1);
    await ctx.db.query(
      "update private.image_uploads set expires_at = now() - interval '1 second' where product_id = $1",
      [productId],
    );
    const result = await runDestroyJob();
    expect(result.expired).toBeGreaterThanOrEqual(1);
    expect(await count("private.image_uploads where product_id = $1", [productId])).toBe(0);
    expect(await count("private.image_deletions where public_id = $1", [reserved.rows[0]?.public_id])).toBe(0);

    // The same request succeeds once the provider is back.
    const retried = await postFile(`/v1/products/${productId}/images`, { bytes, name: "a.jpg" });
    expect(retried.status, retried.text).toBe(201);
  });

  it("a viewer cannot upload, sign or confirm; anon cannot either", async () => {
    const productId = await newProduct();
    const bytes = await makeImage("png", 20, 20);
    const filesBefore = await local.files();
    expectProblem(await postFile(`/v1/products/${productId}/images`, { bytes, name: "a.png" }, { as: "viewer" }), 403);
    expectProblem(await postFile(`/v1/products/${productId}/images`, { bytes, name: "a.png" }, { as: "anon" }), 401);
    expectProblem(
      await api.request("POST", "/v1/images/signature", { as: "viewer", body: { product_id: productId } }),
      403,
    );
    // The database refuses on its own too: a viewer calling the SQL functions directly.
    await expect(
      ctx.db.asUser(claimsOf("viewer"), (tx) =>
        tx.query("select private.image_reserve_upload($1, null, 'x/y', '1 hour')", [productId]),
      ),
    ).rejects.toMatchObject({ code: "P0F01" });
    await expect(
      ctx.db.asUser(claimsOf("staff"), (tx) =>
        tx.query(
          "insert into public.product_images (product_id, position, public_id, asset_version, format, width, height, bytes, checksum) values ($1, 0, 'x', 1, 'png', 1, 1, 1, repeat('0', 64))",
          [productId],
        ),
      ),
    ).rejects.toMatchObject({ code: "42501" });
    expect(await imageRows(productId)).toBe(0);
    expect(await local.files()).toEqual(filesBefore);
  });

  it("a draft's images are invisible to anon (API and RLS); a published product's are public", async () => {
    const draft = await newProduct("draft");
    const published = await newProduct("published");
    for (const productId of [draft, published]) {
      const up = await postFile(`/v1/products/${productId}/images`, {
        bytes: await makeImage("png", 30, 30),
        name: "a.png",
      });
      expect(up.status, up.text).toBe(201);
    }
    expectProblem(await api.request("GET", `/v1/products/${draft}/images`), 404);
    expect((await api.request("GET", `/v1/products/${draft}/images`, { as: "viewer" })).json.data).toHaveLength(1);
    const open = await api.request("GET", `/v1/products/${published}/images`);
    expect(open.status).toBe(200);
    expect(open.json.data).toHaveLength(1);

    const visible = (role: "anon" | "viewer", table: string) =>
      ctx.db.asUser(claimsOf(role), async (tx) => {
        const { rows } = await tx.query<{ product_id: string }>(
          `select product_id from public.${table} where product_id = any($1::uuid[])`,
          [[draft, published]],
        );
        return rows.map((row) => row.product_id);
      });
    expect(await visible("anon", "product_images")).toEqual([published]);
    expect((await visible("viewer", "product_images")).sort()).toEqual([draft, published].sort());
    expect(await visible("anon", "product_image_versions")).toEqual([]);
  });

  it("replace keeps the history; a previous version is restorable; delete removes rows and assets", async () => {
    const productId = await newProduct();
    const first = await makeImage("jpeg", 200, 100);
    const created = (await postFile(`/v1/products/${productId}/images`, { bytes: first, name: "a.jpg" })).json;
    const second = await makeImage("webp", 300, 300);
    const stale = await postFile(
      `/v1/products/${productId}/images/${created.id}/replace`,
      { bytes: second, name: "b.webp" },
      {
        headers: { "if-match": '"7"' },
      },
    );
    expectProblem(stale, 409);
    const replaced = await postFile(
      `/v1/products/${productId}/images/${created.id}/replace`,
      { bytes: second, name: "b.webp" },
      {
        headers: { "if-match": '"1"' },
      },
    );
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.json).toMatchObject({ id: created.id, version: 2, format: "webp", width: 300, height: 300 });
    expect(replaced.json.public_id).not.toBe(created.public_id);

    const versions = await api.request("GET", `/v1/products/${productId}/images/${created.id}/versions`, {
      as: "viewer",
    });
    expect(versions.status).toBe(200);
    expect(versions.json.map((v: any) => [v.public_id, v.current])).toEqual([
      [replaced.json.public_id, true],
      [created.public_id, false],
    ]);
    expect(versions.json[1].urls.original).toContain(created.public_id);

    const restored = await api.request("POST", `/v1/products/${productId}/images/${created.id}/restore`, {
      as: "staff",
      body: { version_id: versions.json[1].id, version: 2 },
    });
    expect(restored.status, restored.text).toBe(200);
    expect(restored.json).toMatchObject({
      public_id: created.public_id,
      asset_version: created.asset_version,
      format: "jpg",
      width: 200,
      height: 100,
      checksum: created.checksum,
      version: 3,
    });
    const served = await fetch(restored.json.urls.original);
    expect(Buffer.from(await served.arrayBuffer()).equals(first)).toBe(true);

    // Delete: both versions' rows go now, their assets through the job (which retries a failure).
    const files = (publicId: string) => local.files().then((all) => all.filter((f) => f.startsWith(publicId)));
    expect(await files(created.public_id)).toHaveLength(2);
    expect(await files(replaced.json.public_id)).toHaveLength(2);
    const deleted = await api.request("DELETE", `/v1/products/${productId}/images/${created.id}`, {
      as: "staff",
      headers: { "if-match": '"3"' },
    });
    expect(deleted.status, deleted.text).toBe(204);
    expect(await imageRows(productId)).toBe(0);
    expect(await count("public.product_image_versions where image_id = $1", [created.id])).toBe(0);

    local.failNext(1);
    const firstRun = await runDestroyJob();
    expect(firstRun.failed).toBe(1);
    expect(firstRun.destroyed).toBe(1);
    const retry = await ctx.db.query<{ attempts: number; last_error: string }>(
      "select attempts, last_error from private.image_deletions where public_id = any($1)",
      [[created.public_id, replaced.json.public_id]],
    );
    expect(retry.rows).toEqual([{ attempts: 1, last_error: expect.stringContaining("failed") }]);
    const secondRun = await runDestroyJob();
    expect(secondRun).toMatchObject({ destroyed: 1, failed: 0 });
    expect(await files(created.public_id)).toEqual([]);
    expect(await files(replaced.json.public_id)).toEqual([]);
    expect(
      await count("private.image_deletions where public_id = any($1)", [[created.public_id, replaced.json.public_id]]),
    ).toBe(0);
  });

  it("reorders, moves the primary, edits alt text, with versions and events", async () => {
    const productId = await newProduct();
    const ids: string[] = [];
    for (const name of ["a", "b", "c"]) {
      const up = await postFile(`/v1/products/${productId}/images`, {
        bytes: await makeImage("png", 40, 40),
        name: `${name}.png`,
      });
      ids.push(up.json.id);
    }
    const [a, b, c] = ids as [string, string, string];
    const reordered = await api.request("POST", `/v1/products/${productId}/images/reorder`, {
      as: "staff",
      body: { image_ids: [c, a, b] },
    });
    expect(reordered.status, reordered.text).toBe(200);
    expect(reordered.json.data.map((i: any) => [i.id, i.position])).toEqual([
      [c, 0],
      [a, 1],
      [b, 2],
    ]);
    const incomplete = await api.request("POST", `/v1/products/${productId}/images/reorder`, {
      as: "staff",
      body: { image_ids: [c, a] },
    });
    expectProblem(incomplete, 422);
    expect(incomplete.json.errors[0].field).toBe("body.image_ids");

    const primary = await api.request("PATCH", `/v1/products/${productId}/images/${b}`, {
      as: "staff",
      body: { is_primary: true, alt_text: "The side view" },
    });
    expect(primary.status, primary.text).toBe(200);
    expect(primary.json).toMatchObject({ is_primary: true, alt_text: "The side view" });
    const list = (await api.request("GET", `/v1/products/${productId}/images`, { as: "viewer" })).json.data;
    expect(list.filter((i: any) => i.is_primary).map((i: any) => i.id)).toEqual([b]);

    const stale = await api.request("PATCH", `/v1/products/${productId}/images/${b}`, {
      as: "staff",
      body: { alt_text: "late", version: 1 },
    });
    expectProblem(stale, 409);
    expect(stale.json.current.alt_text).toBe("The side view");

    // Deleting the primary hands the role to the first image left.
    await api.request("DELETE", `/v1/products/${productId}/images/${b}`, { as: "staff" });
    const after = (await api.request("GET", `/v1/products/${productId}/images`, { as: "viewer" })).json.data;
    expect(after.map((i: any) => [i.id, i.is_primary])).toEqual([
      [c, true],
      [a, false],
    ]);

    // Every image event's payload is exactly what its catalogue schema says.
    const events = await ctx.db.query<{ topic: string; payload: unknown }>(
      "select topic, payload from private.events where topic like 'product_image.%' order by id",
    );
    expect(events.rows.map((row) => row.topic)).toEqual(
      expect.arrayContaining(["product_image.created", "product_image.updated", "product_image.deleted"]),
    );
    for (const row of events.rows) {
      const type = imageEventTypes.find((t) => t.topic === row.topic);
      expect(type, row.topic).toBeDefined();
      const parsed = type?.data.safeParse(row.payload);
      expect(parsed?.success, `${row.topic}: ${JSON.stringify(parsed?.error?.issues)}`).toBe(true);
    }
  });
});

describe(`browser direct upload on ${engine}`, () => {
  async function browserUpload(fields: Record<string, string>, url: string, bytes: Uint8Array) {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    form.append("file", new Blob([new Uint8Array(bytes)]), "photo");
    const response = await fetch(url, { method: "POST", body: form });
    return { status: response.status, json: await response.json() };
  }

  it("signs, uploads straight to the provider, confirms after checking the response signature", async () => {
    const productId = await newProduct();
    const signed = await api.request("POST", "/v1/images/signature", { as: "staff", body: { product_id: productId } });
    expect(signed.status, signed.text).toBe(200);
    expect(signed.json.fields).toMatchObject({
      public_id: expect.stringMatching(new RegExp(`^storekeep/products/${productId}/`)),
      allowed_formats: "jpg,png,webp,avif,gif",
      api_key: "local-key",
    });
    expect(signed.json.fields).not.toHaveProperty("api_secret");

    // The signature binds the public id and the formats: the provider refuses changes.
    const bytes = await makeImage("jpeg", 250, 125);
    expect(
      (await browserUpload({ ...signed.json.fields, public_id: "elsewhere/x" }, signed.json.upload_url, bytes)).status,
    ).toBe(401);
    const uploaded = await browserUpload(signed.json.fields, signed.json.upload_url, bytes);
    expect(uploaded.status).toBe(200);

    const forged = await api.request("POST", `/v1/products/${productId}/images/confirm`, {
      as: "staff",
      body: { upload: { ...uploaded.json, signature: "0".repeat(40) }, alt_text: "x" },
    });
    expectProblem(forged, 422);
    expect(forged.json.errors[0].field).toBe("body.upload.signature");
    const otherVersion = await api.request("POST", `/v1/products/${productId}/images/confirm`, {
      as: "staff",
      body: { upload: { ...uploaded.json, version: uploaded.json.version + 1 } },
    });
    expectProblem(otherVersion, 422);
    expect(await imageRows(productId)).toBe(0);

    const confirmed = await api.request("POST", `/v1/products/${productId}/images/confirm`, {
      as: "staff",
      body: { upload: uploaded.json, alt_text: "From the browser" },
    });
    expect(confirmed.status, confirmed.text).toBe(201);
    expect(confirmed.json).toMatchObject({
      public_id: signed.json.public_id,
      format: "jpg",
      width: 250,
      height: 125,
      bytes: bytes.length,
      checksum: createHash("sha256").update(bytes).digest("hex"),
      alt_text: "From the browser",
    });
    // Once only; and another product cannot claim it.
    expectProblem(
      await api.request("POST", `/v1/products/${productId}/images/confirm`, {
        as: "staff",
        body: { upload: uploaded.json },
      }),
      404,
    );
  });

  it("refuses (and deletes at the provider) a browser upload over the size limit", async () => {
    const productId = await newProduct();
    const signed = (await api.request("POST", "/v1/images/signature", { as: "staff", body: { product_id: productId } }))
      .json;
    const big = await sharp({ create: { width: 600, height: 600, channels: 3, background: "#808080" } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const uploaded = await browserUpload(signed.fields, signed.upload_url, big);
    expect(uploaded.status).toBe(200);
    expect((await local.files()).some((f) => f.startsWith(signed.public_id))).toBe(true);
    const refused = await api.request("POST", `/v1/products/${productId}/images/confirm`, {
      as: "staff",
      body: { upload: uploaded.json },
    });
    expectProblem(refused, 413);
    expect(await imageRows(productId)).toBe(0);
    expect((await local.files()).some((f) => f.startsWith(signed.public_id))).toBe(false);
  });

  it("a signed response for another product's upload is not confirmed, and that asset is left alone", async () => {
    const mine = await newProduct();
    const theirs = await newProduct();
    const signed = (await api.request("POST", "/v1/images/signature", { as: "staff", body: { product_id: theirs } }))
      .json;
    const uploaded = await browserUpload(signed.fields, signed.upload_url, await makeImage("png", 10, 10));
    const wrong = await api.request("POST", `/v1/products/${mine}/images/confirm`, {
      as: "staff",
      body: { upload: uploaded.json },
    });
    expectProblem(wrong, 404);
    expect((await local.files()).some((f) => f.startsWith(signed.public_id))).toBe(true);
    const right = await api.request("POST", `/v1/products/${theirs}/images/confirm`, {
      as: "staff",
      body: { upload: uploaded.json },
    });
    expect(right.status, right.text).toBe(201);
  });
});

describe(`image events reach the product's realtime channel on ${engine}`, () => {
  it("an upload and an alt-text change are broadcast on product:<id> with their outbox topic", async () => {
    const productId = await newProduct();
    const up = await postFile(`/v1/products/${productId}/images`, {
      bytes: await makeImage("png", 12, 12),
      name: "a.png",
    });
    expect(up.status, up.text).toBe(201);
    await api.request("PATCH", `/v1/products/${productId}/images/${up.json.id}`, {
      as: "staff",
      body: { alt_text: "Live" },
    });
    const { rows } = await ctx.db.query<{ event: string; data: { id: string; alt_text: string } }>(
      "select event, payload -> 'data' as data from realtime.messages where topic = $1 order by id",
      [`product:${productId}`],
    );
    expect(rows.map((row) => row.event)).toEqual(
      expect.arrayContaining(["product.created", "product_image.created", "product_image.updated"]),
    );
    expect(rows.find((row) => row.event === "product_image.updated")?.data).toMatchObject({
      id: up.json.id,
      alt_text: "Live",
    });
  });
});
