import cloudinary from "cloudinary";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createCloudinaryProvider } from "../packages/server/src/platform/images/cloudinary.ts";
import { ImageProviderError } from "../packages/server/src/platform/images/types.ts";
import { CLOUD, type Format, type LocalProvider, makeImage, startLocalProvider } from "./helpers/images.ts";

// The local Cloudinary-compatible endpoint, driven by the real `cloudinary` SDK: what the SDK signs
// it verifies, what it stores is what the bytes are, and it answers as Cloudinary does.
const sdk = cloudinary.v2;
let local: LocalProvider;
let account: Record<string, unknown>;

beforeAll(async () => {
  local = await startLocalProvider();
  const { Agent } = await import("node:http");
  account = {
    cloud_name: CLOUD.cloudName,
    api_key: CLOUD.apiKey,
    api_secret: CLOUD.apiSecret,
    upload_prefix: `${local.origin}/cloudinary`,
    agent: new Agent(),
  };
});
afterAll(() => local.close());

function upload(bytes: Buffer, options: Record<string, unknown>): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    sdk.uploader
      .upload_stream({ ...account, ...options } as never, (error, result) =>
        error ? reject(error) : resolve(result as never),
      )
      .end(bytes);
  });
}

describe("local Cloudinary endpoint, through the cloudinary SDK", () => {
  it.each([
    ["jpeg", "jpg"],
    ["png", "png"],
    ["webp", "webp"],
    ["avif", "avif"],
    ["gif", "gif"],
  ] as [Format, string][])("stores a %s and reports its real format, size and bytes", async (format, reported) => {
    const bytes = await makeImage(format, 321, 123);
    const result = await upload(bytes, { public_id: `t/${format}-${Date.now()}`, colors: true });
    expect(result).toMatchObject({
      format: reported,
      width: 321,
      height: 123,
      bytes: bytes.length,
      resource_type: "image",
      type: "upload",
    });
    expect(result.version).toBeGreaterThan(1_700_000_000);
    expect(result.etag).toMatch(/^[0-9a-f]{32}$/);
    // The dominant colour is the image's (200, 30, 40), to libvips' histogram bins of 8.
    const channels = String(result.colors?.[0]?.[0]).slice(1).match(/../g) ?? [];
    const distance = channels.map((hex, i) => Math.abs(Number.parseInt(hex, 16) - ([200, 30, 40][i] ?? 0)));
    expect(distance).toHaveLength(3);
    expect(Math.max(...distance)).toBeLessThanOrEqual(8);
    // The response signature is Cloudinary's: what the SDK's own helper computes with the secret.
    const expected = (sdk.utils.api_sign_request as any)(
      { public_id: result.public_id, version: result.version },
      CLOUD.apiSecret,
      null,
      1,
    );
    expect(result.signature).toBe(expected);
    // The delivery URL serves the same bytes.
    const served = await fetch(result.secure_url);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("refuses a forged signature, a tampered parameter and a stale timestamp, storing nothing", async () => {
    const before = await local.files();
    const bytes = await makeImage("png", 10, 10);
    await expect(upload(bytes, { public_id: "t/forged", api_secret: "not-the-secret" })).rejects.toMatchObject({
      http_code: 401,
      message: expect.stringContaining("Invalid Signature"),
    });

    // A browser posting signed fields with one changed (another public id than the one signed).
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = sdk.utils.api_sign_request({ public_id: "t/allowed", timestamp }, CLOUD.apiSecret);
    const post = async (fields: Record<string, string>) => {
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      form.append("file", new Blob([new Uint8Array(bytes)]), "x.png");
      return fetch(`${local.origin}/cloudinary/v1_1/local/image/upload`, { method: "POST", body: form });
    };
    const tampered = await post({
      public_id: "t/elsewhere",
      timestamp: String(timestamp),
      api_key: CLOUD.apiKey,
      signature: signed,
    });
    expect(tampered.status).toBe(401);
    expect((await tampered.json()).error.message).toContain("Invalid Signature");

    const old = timestamp - 3601;
    const stale = await post({
      public_id: "t/allowed",
      timestamp: String(old),
      api_key: CLOUD.apiKey,
      signature: sdk.utils.api_sign_request({ public_id: "t/allowed", timestamp: old }, CLOUD.apiSecret),
    });
    expect(stale.status).toBe(400);
    expect((await stale.json()).error.message).toContain("Stale request");

    const wrongKey = await post({
      public_id: "t/allowed",
      timestamp: String(timestamp),
      api_key: "nope",
      signature: signed,
    });
    expect(wrongKey.status).toBe(401);

    // The untampered request goes through: the refusals above were about the signature.
    const honest = await post({
      public_id: "t/allowed",
      timestamp: String(timestamp),
      api_key: CLOUD.apiKey,
      signature: signed,
    });
    expect(honest.status).toBe(200);
    expect(await local.files()).toEqual([...before, "t/allowed.bin", "t/allowed.json"].sort());
  });

  it("refuses a format outside allowed_formats and bytes that are no image", async () => {
    const before = await local.files();
    await expect(
      upload(await makeImage("gif", 8, 8), { public_id: "t/gif", allowed_formats: ["jpg", "png"] }),
    ).rejects.toMatchObject({
      http_code: 400,
      message: "Image file format gif not allowed",
    });
    await expect(upload(Buffer.from("#!/bin/sh\necho hi\n"), { public_id: "t/script" })).rejects.toMatchObject({
      http_code: 400,
      message: "Invalid image file",
    });
    expect(await local.files()).toEqual(before);
  });

  it("destroys an asset (signed), and says 'not found' the second time", async () => {
    const result = await upload(await makeImage("png", 20, 20), { public_id: "t/doomed" });
    expect(await local.files()).toContain("t/doomed.bin");
    await expect(sdk.uploader.destroy(result.public_id, account as never)).resolves.toEqual({ result: "ok" });
    expect(await local.files()).not.toContain("t/doomed.bin");
    expect((await fetch(result.secure_url)).status).toBe(404);
    await expect(sdk.uploader.destroy(result.public_id, account as never)).resolves.toEqual({ result: "not found" });
    await expect(sdk.uploader.destroy("t/other", { ...account, api_secret: "forged" } as never)).rejects.toMatchObject({
      http_code: 401,
    });
  });

  it("serves w_/h_/c_ and f_auto transformations of SDK-built URLs", async () => {
    const result = await upload(await makeImage("jpeg", 400, 200), { public_id: "t/crop" });
    const url = sdk.url(result.public_id, {
      cloud_name: "local",
      secure: false,
      cname: `${local.origin.replace("http://", "")}/cloudinary/local`,
      private_cdn: true,
      version: result.version,
      transformation: [
        { crop: "fill", gravity: "auto", width: 100, height: 100 },
        { fetch_format: "auto", quality: "auto" },
      ],
      urlAnalytics: false,
    } as never);
    expect(url).toContain("/c_fill,g_auto,h_100,w_100/f_auto,q_auto/v");
    const response = await fetch(url, { headers: { accept: "image/webp,image/*" } });
    expect(response.headers.get("content-type")).toBe("image/webp");
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["webp", 100, 100]);

    const limited = await fetch(url.replace("c_fill,g_auto,h_100,w_100", "c_limit,w_150").replace("f_auto", "f_png"));
    const limitedMeta = await sharp(Buffer.from(await limited.arrayBuffer())).metadata();
    expect([limitedMeta.format, limitedMeta.width, limitedMeta.height]).toEqual(["png", 150, 75]);
  });
});

describe("platform/images adapter (the cloudinary SDK) against the local endpoint", () => {
  it("uploads, verifies the response signature, builds URLs, downloads and destroys", async () => {
    const config = loadConfig({ ...LOCAL_DEFAULTS, ...local.env });
    const provider = createCloudinaryProvider(config.images as NonNullable<typeof config.images>);
    const bytes = await makeImage("webp", 64, 48);
    const asset = await provider.upload(bytes, "t/adapter", { allowedFormats: ["jpg", "png", "webp", "avif", "gif"] });
    expect(asset).toMatchObject({ public_id: "t/adapter", format: "webp", width: 64, height: 48, bytes: bytes.length });
    expect(provider.verifyResponse(asset.public_id, asset.version, asset.signature)).toBe(true);
    expect(provider.verifyResponse(asset.public_id, asset.version + 1, asset.signature)).toBe(false);
    expect(provider.verifyResponse("t/other", asset.version, asset.signature)).toBe(false);
    expect(provider.url(asset.public_id, asset.version)).toBe(
      `${local.origin}/cloudinary/local/image/upload/v${asset.version}/t/adapter`,
    );
    expect(Buffer.from(await provider.download(asset.public_id, asset.version, 1_000_000)).equals(bytes)).toBe(true);
    expect((await provider.download(asset.public_id, asset.version, 10)).byteLength).toBeGreaterThan(10);
    await expect(provider.destroy(asset.public_id)).resolves.toBe("ok");
    await expect(provider.destroy(asset.public_id)).resolves.toBe("not found");

    local.failNext(1);
    const failure = await provider.upload(bytes, "t/outage", { allowedFormats: ["webp"] }).catch((error) => error);
    expect(failure).toBeInstanceOf(ImageProviderError);
    expect([failure.status, failure.refused]).toEqual([500, false]);
    expect(await local.files()).not.toContain("t/outage.bin");
  });

  it("signs browser uploads the endpoint accepts, and only as signed", async () => {
    const config = loadConfig({ ...LOCAL_DEFAULTS, ...local.env });
    const provider = createCloudinaryProvider(config.images as NonNullable<typeof config.images>);
    const signed = provider.signUpload({ public_id: "t/browser", allowed_formats: "jpg,png", colors: "true" });
    expect(signed.upload_url).toBe(`${local.origin}/cloudinary/v1_1/local/image/upload`);
    const post = async (fields: Record<string, string>, bytes: Buffer) => {
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      form.append("file", new Blob([new Uint8Array(bytes)]), "photo.png");
      return fetch(signed.upload_url, { method: "POST", body: form });
    };
    expect((await post({ ...signed.fields, public_id: "t/hijack" }, await makeImage("png", 5, 5))).status).toBe(401);
    expect((await post(signed.fields, await makeImage("webp", 5, 5))).status).toBe(400);
    const ok = await post(signed.fields, await makeImage("png", 5, 5));
    expect(ok.status).toBe(200);
    const body = await ok.json();
    expect(provider.verifyResponse(body.public_id, body.version, body.signature)).toBe(true);
  });
});

describe("CDN domain", () => {
  it("delivers from a custom https domain when IMAGES_CDN_URL names one", () => {
    const config = loadConfig({
      ...LOCAL_DEFAULTS,
      CLOUDINARY_URL: "cloudinary://k:s@shop",
      IMAGES_CDN_URL: "https://img.shop.example",
    });
    const provider = createCloudinaryProvider(config.images as NonNullable<typeof config.images>);
    expect(provider.url("storekeep/p/1", 7, [{ fetch_format: "auto", quality: "auto" }])).toBe(
      "https://img.shop.example/image/upload/f_auto,q_auto/v7/storekeep/p/1",
    );
    const defaults: Record<string, string> = { ...LOCAL_DEFAULTS };
    delete defaults.IMAGES_CDN_URL;
    const plainConfig = loadConfig({ ...defaults, CLOUDINARY_URL: "cloudinary://k:s@shop" });
    const plain = createCloudinaryProvider(plainConfig.images as NonNullable<typeof plainConfig.images>);
    expect(plain.url("a", 1)).toBe("https://res.cloudinary.com/shop/image/upload/v1/a");
  });
});
