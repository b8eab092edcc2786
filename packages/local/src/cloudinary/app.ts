import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import sharp from "sharp";
import { responseSignature, type SignatureAlgorithm, sign, stringToSign } from "./signature.ts";
import { createAssetStore, isValidPublicId, type StoredAsset } from "./store.ts";
import { isTransformationSegment, render } from "./transform.ts";

// A Cloudinary-compatible image provider for the local stack: the Upload API's `upload` and
// `destroy` (signed exactly as Cloudinary signs them, answered in its response shape with its
// response signature) and delivery of the stored images with basic transformations. The real
// `cloudinary` SDK talks to it when CLOUDINARY_URL's upload_prefix points here.

export interface LocalCloudinaryOptions {
  /** Directory for the assets (the stack uses .storekeep/cloudinary). */
  root: string;
  cloudName: string;
  apiKey: string;
  apiSecret: string;
  signatureAlgorithm?: SignatureAlgorithm;
  /** The path the server mounts this app at ("/cloudinary", stripped before it sees a request), for asset URLs. */
  basePath?: string;
}

/** Cloudinary refuses a signed request whose timestamp is more than an hour old. */
const SIGNATURE_TTL_SECONDS = 3600;

type Params = Record<string, string | string[]>;

export function createLocalCloudinary(options: LocalCloudinaryOptions) {
  const store = createAssetStore(options.root, options.cloudName);
  const algorithm = options.signatureAlgorithm ?? "sha1";
  const basePath = options.basePath ?? "";
  const app = new Hono();

  const fail = (status: 400 | 401 | 404, message: string) =>
    new Response(JSON.stringify({ error: { message } }), { status, headers: { "content-type": "application/json" } });

  /** The parameters of a signed Upload API call, or the error Cloudinary would answer. */
  async function signedCall(
    request: Request,
    cloud: string,
  ): Promise<{ params: Params; file?: File | string } | Response> {
    if (cloud !== options.cloudName) return fail(401, `Invalid cloud_name ${cloud}`);
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      return fail(400, "Invalid request body (multipart/form-data or urlencoded expected)");
    }
    const params: Params = {};
    let file: File | string | undefined;
    for (const [key, value] of form.entries()) {
      if (key === "file") {
        file = value;
        continue;
      }
      if (typeof value !== "string") return fail(400, `Parameter ${key} must be text`);
      if (key.endsWith("[]")) {
        const name = key.slice(0, -2);
        params[name] = [...((params[name] as string[] | undefined) ?? []), value];
      } else params[key] = value;
    }
    const apiKey = params.api_key;
    if (!apiKey) return fail(401, "Must supply api_key");
    if (apiKey !== options.apiKey) return fail(401, `Unknown API key ${apiKey}`);
    const timestamp = Number(params.timestamp);
    if (!params.timestamp || !Number.isInteger(timestamp)) return fail(400, "Missing required parameter - timestamp");
    const now = Math.floor(Date.now() / 1000);
    if (timestamp < now - SIGNATURE_TTL_SECONDS) {
      return fail(400, `Stale request - reported time is ${timestamp} which is more than 1 hour ago`);
    }
    const given = typeof params.signature === "string" ? params.signature : "";
    if (!given) return fail(400, "Missing required parameter - signature");
    const toSign = stringToSign(params);
    if (!sameText(given, sign(toSign, options.apiSecret, algorithm))) {
      return fail(401, `Invalid Signature ${given}. String to sign - '${toSign}'.`);
    }
    return { params, file };
  }

  app.post("/v1_1/:cloud/:resource_type/upload", async (c) => {
    const call = await signedCall(c.req.raw, c.req.param("cloud"));
    if (call instanceof Response) return call;
    const { params, file } = call;
    if (!["image", "auto"].includes(c.req.param("resource_type"))) {
      return fail(400, "Only image uploads are supported by the local provider");
    }
    if (file === undefined || file === "") return fail(400, "Missing required parameter - file");
    const bytes = await fileBytes(file);
    if (!bytes) return fail(400, "The local provider takes a file part or a base64 data URI");

    let info: { format: string; width: number; height: number; dominant: string };
    try {
      info = await inspect(bytes);
    } catch {
      return fail(400, "Invalid image file");
    }
    const allowed = list(params.allowed_formats);
    if (allowed.length && !allowed.includes(info.format)) {
      return fail(400, `Image file format ${info.format} not allowed`);
    }

    const name = text(params.public_id) || randomBytes(10).toString("hex");
    const folder = text(params.folder).replace(/\/+$/, "");
    const publicId = folder && !name.startsWith(`${folder}/`) ? `${folder}/${name}` : name;
    if (!isValidPublicId(publicId)) return fail(400, `Invalid public_id ${publicId}`);

    const existing = await store.get(publicId);
    if (existing && ["0", "false"].includes(text(params.overwrite))) {
      return c.json({ ...describe(existing.asset, c.req.url, params), existing: true });
    }
    const asset: StoredAsset = {
      public_id: publicId,
      version: Math.max(Math.floor(Date.now() / 1000), (existing?.asset.version ?? 0) + 1),
      format: info.format,
      width: info.width,
      height: info.height,
      bytes: bytes.byteLength,
      etag: createHash("md5").update(bytes).digest("hex"),
      created_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      original_filename: typeof file === "string" ? "file" : file.name.replace(/\.[^.]*$/, "") || "file",
      dominant: info.dominant,
    };
    await store.put(asset, bytes);
    return c.json(describe(asset, c.req.url, params));
  });

  app.post("/v1_1/:cloud/:resource_type/destroy", async (c) => {
    const call = await signedCall(c.req.raw, c.req.param("cloud"));
    if (call instanceof Response) return call;
    const publicId = text(call.params.public_id);
    if (!publicId) return fail(400, "Missing required parameter - public_id");
    return c.json({ result: (await store.remove(publicId)) ? "ok" : "not found" });
  });

  // Delivery: /<cloud>/image/upload/[<transformation>/...][v<version>/]<public_id>[.<ext>]
  app.get("/:cloud/image/upload/*", async (c) => {
    if (c.req.param("cloud") !== options.cloudName) return c.notFound();
    const prefix = `/${options.cloudName}/image/upload/`;
    const segments = decodeURIComponent(c.req.path.slice(prefix.length)).split("/");
    const steps: string[] = [];
    while (segments.length > 1 && (isTransformationSegment(segments[0] ?? "") || /^s--.+--$/.test(segments[0] ?? ""))) {
      const step = segments.shift() as string;
      if (!step.startsWith("s--")) steps.push(step);
    }
    if (segments.length > 1 && /^v\d+$/.test(segments[0] ?? "")) segments.shift();
    const path = segments.join("/");
    const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
    const found =
      (await store.get(path)) ?? (extension ? await store.get(path.slice(0, -extension.length - 1)) : undefined);
    if (!found) return c.body("Resource not found", 404);
    const rendered =
      steps.length === 0 && (!extension || extension === found.asset.format)
        ? { bytes: found.bytes, format: found.asset.format }
        : await render(found.bytes, steps, {
            format: extension ?? found.asset.format,
            accept: c.req.header("accept") ?? "",
          });
    return c.body(new Uint8Array(rendered.bytes), 200, {
      "content-type": `image/${rendered.format === "jpg" ? "jpeg" : rendered.format}`,
      "cache-control": "public, max-age=31536000, immutable",
      "access-control-allow-origin": "*",
    });
  });

  /** Cloudinary's upload response for a stored asset. */
  function describe(asset: StoredAsset, requestUrl: string, params: Params) {
    const delivery = `${new URL(requestUrl).origin}${basePath}/${options.cloudName}/image/upload/v${asset.version}/${asset.public_id}.${asset.format}`;
    return {
      asset_id: createHash("md5").update(`${options.cloudName}/${asset.public_id}`).digest("hex"),
      public_id: asset.public_id,
      version: asset.version,
      version_id: createHash("md5").update(`${asset.public_id}@${asset.version}`).digest("hex"),
      signature: responseSignature(asset.public_id, asset.version, options.apiSecret, algorithm),
      width: asset.width,
      height: asset.height,
      format: asset.format,
      resource_type: "image",
      created_at: asset.created_at,
      tags: list(params.tags),
      pages: 1,
      bytes: asset.bytes,
      type: "upload",
      etag: asset.etag,
      placeholder: false,
      url: delivery,
      secure_url: delivery,
      asset_folder: text(params.asset_folder),
      display_name: asset.public_id.split("/").pop(),
      original_filename: asset.original_filename,
      api_key: options.apiKey,
      ...(["1", "true"].includes(text(params.colors)) ? { colors: [[asset.dominant.toUpperCase(), 100.0]] } : {}),
    };
  }

  return { app, store };
}

export type LocalCloudinary = ReturnType<typeof createLocalCloudinary>;

/** Real format, size and dominant colour, decoded from the bytes. */
async function inspect(
  bytes: Uint8Array,
): Promise<{ format: string; width: number; height: number; dominant: string }> {
  const image = sharp(bytes);
  const metadata = await image.metadata();
  if (!metadata.format || !metadata.width || !metadata.height) throw new Error("not an image");
  // libvips calls AVIF "heif" (an AV1-coded HEIF); Cloudinary says avif.
  const format =
    metadata.format === "jpeg"
      ? "jpg"
      : metadata.format === "heif" && metadata.compression === "av1"
        ? "avif"
        : metadata.format;
  const { dominant } = await image.stats();
  const hex = [dominant.r, dominant.g, dominant.b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return { format, width: metadata.width, height: metadata.pageHeight ?? metadata.height, dominant: `#${hex}` };
}

async function fileBytes(file: File | string): Promise<Uint8Array | undefined> {
  if (typeof file !== "string") return new Uint8Array(await file.arrayBuffer());
  const match = /^data:[^;,]*(;base64)?,(.*)$/s.exec(file);
  if (!match?.[1]) return undefined;
  return new Uint8Array(Buffer.from(match[2] ?? "", "base64"));
}

function text(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

function list(value: string | string[] | undefined): string[] {
  return text(value)
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
