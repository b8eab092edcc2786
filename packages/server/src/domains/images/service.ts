import type { Services } from "../../http/env.ts";
import { Problem } from "../../http/problems.ts";
import { callAsUser } from "../../platform/db/call.ts";
import { earlierResponse, idempotentAsUser } from "../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../platform/db/types.ts";
import { type ImageProvider, ImageProviderError, type ProviderAsset } from "../../platform/images/types.ts";
import { imageUrls } from "./delivery.ts";
import { IMAGE_FORMATS, type InspectedImage, inspectImage, UnsupportedImageError } from "./inspect.ts";
import type { Image, ImageRow, ImageVersion } from "./schemas.ts";

// An upload reserves its public id in the database, puts the bytes at the provider, then records
// the asset in one transaction (migration product_images_api). Whatever fails after the
// reservation, the reservation outlives it and its expiry deletes the asset at the provider, so a
// failed request leaves neither a row nor, for long, an orphaned asset.
//
// Idempotency-Key: such a request spans transactions and a call to the provider, so it asks first
// whether its key already has an answer (a repeat answers at once and uploads nothing), and claims
// the key in the recording transaction (a concurrent repeat that got as far answers the first
// image; the asset it uploaded goes).

/** How long an API upload may take between reservation and record. */
const UPLOAD_TTL = "15 minutes";
/** A browser upload: Cloudinary honours a signature for an hour; confirming may come a little later. */
const BROWSER_UPLOAD_TTL_SECONDS = 2 * 3600;

/** An Idempotency-Key with the operation and what identifies its request (platform/db/idempotency.ts). */
export interface Keyed {
  key: string | undefined;
  operation: string;
  request: unknown;
}

type Answer<T> = { result: T; replayed: boolean };

export interface UploadInput {
  bytes: Uint8Array;
  alt_text?: string;
  variant_id?: string | null;
}

function requireProvider(services: Services): ImageProvider {
  if (!services.images) throw new Problem("unavailable", "no image provider is configured (CLOUDINARY_URL)");
  return services.images;
}

/** The file's bytes, refused (413) past the configured limit before anything is stored. */
export async function readUpload(services: Services, file: File): Promise<Uint8Array> {
  const { maxBytes } = requireProvider(services);
  if (file.size > maxBytes) {
    throw new Problem("payload-too-large", `the file has ${file.size} bytes; at most ${maxBytes} are accepted`, {
      errors: [{ field: "body.file", message: `larger than ${maxBytes} bytes` }],
      max_bytes: maxBytes,
    });
  }
  return new Uint8Array(await file.arrayBuffer());
}

async function inspectOrRefuse(bytes: Uint8Array): Promise<InspectedImage> {
  try {
    return await inspectImage(bytes);
  } catch (error) {
    if (!(error instanceof UnsupportedImageError)) throw error;
    throw new Problem("unsupported-media-type", `the file is ${error.message}`, {
      errors: [{ field: "body.file", message: `must be ${IMAGE_FORMATS.join(", ")}` }],
    });
  }
}

function newPublicId(provider: ImageProvider, productId: string): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return `${provider.folder}/products/${productId}/${random}`;
}

function withUrls<T extends { public_id: string; asset_version: number; width: number }>(
  services: Services,
  row: T,
): T & { urls: Image["urls"] } {
  return {
    ...row,
    urls: services.images ? imageUrls(services.images, row.public_id, row.asset_version, row.width) : null,
  };
}

function placeholderOf(asset: Pick<ProviderAsset, "colors">): string | null {
  const colour = asset.colors?.[0]?.[0]?.toLowerCase();
  return colour && /^#[0-9a-f]{6}$/.test(colour) ? colour : null;
}

function providerProblem(error: unknown): never {
  if (!(error instanceof ImageProviderError)) throw error;
  if (error.refused) {
    throw new Problem("validation-failed", `the image provider refused the file: ${error.message}`, {
      errors: [{ field: "body.file", message: "refused by the image provider" }],
    });
  }
  throw new Problem("unavailable", "the image provider failed; nothing was recorded, try again");
}

/** Records an asset the provider holds; if recording fails, the asset goes at once (or at expiry). */
async function record(
  services: Services,
  claims: DbClaims,
  productId: string,
  publicId: string,
  asset: Record<string, unknown>,
  attrs: { alt_text?: string; variant_id?: string | null },
  expectedVersion: number | null,
  keyed: Keyed,
): Promise<Answer<Image>> {
  try {
    const { result: row, replayed } = await idempotentAsUser(
      services.db,
      claims,
      keyed.key,
      keyed.operation,
      keyed.request,
      async (tx) => {
        const { rows } = await tx.query<{ result: ImageRow }>(
          "select private.image_record($1, $2, $3::jsonb, $4::jsonb, $5) as result",
          [productId, publicId, JSON.stringify(asset), JSON.stringify(attrs), expectedVersion],
        );
        return rows[0]?.result as ImageRow;
      },
    );
    // A concurrent repeat recorded first: this request's own upload is not needed.
    if (replayed && row.public_id !== publicId) await services.images?.destroy(publicId).catch(() => undefined);
    return { result: withUrls(services, row), replayed };
  } catch (error) {
    // The reservation is still there (the transaction rolled back): the expiry job deletes the
    // asset if this attempt does not.
    await services.images?.destroy(publicId).catch(() => undefined);
    throw error;
  }
}

/** The first answer to a repeated key, with its delivery URLs; undefined for a new request. */
async function earlierImage(services: Services, claims: DbClaims, keyed: Keyed): Promise<Image | undefined> {
  const row = await earlierResponse<ImageRow>(services.db, claims, keyed.key, keyed.operation, keyed.request);
  return row && withUrls(services, row);
}

/**
 * Multipart upload through the API: checked here (size, then type by magic bytes), uploaded to the
 * provider signed, and recorded as a new image of the product — or, with `imageId`, as that
 * image's new current version.
 */
export async function uploadImage(
  services: Services,
  claims: DbClaims,
  productId: string,
  input: UploadInput,
  options: { replace?: { imageId: string; expectedVersion: number | null }; idempotencyKey?: string } = {},
): Promise<Answer<Image>> {
  const { replace, idempotencyKey } = options;
  const provider = requireProvider(services);
  const inspected = await inspectOrRefuse(input.bytes);
  const keyed: Keyed = {
    key: idempotencyKey,
    operation: replace ? "replaceProductImage" : "uploadProductImage",
    request: {
      product_id: productId,
      image_id: replace?.imageId ?? null,
      expected_version: replace?.expectedVersion ?? null,
      file: inspected.checksum,
      alt_text: input.alt_text ?? null,
      variant_id: input.variant_id ?? null,
    },
  };
  const earlier = await earlierImage(services, claims, keyed);
  if (earlier) return { result: earlier, replayed: true };
  const publicId = newPublicId(provider, productId);
  await services.db.asUser(claims, (tx) =>
    tx.query("select private.image_reserve_upload($1, $2, $3, $4::interval)", [
      productId,
      replace?.imageId ?? null,
      publicId,
      UPLOAD_TTL,
    ]),
  );
  let asset: ProviderAsset;
  try {
    asset = await provider.upload(input.bytes, publicId, { allowedFormats: [...IMAGE_FORMATS] });
  } catch (error) {
    providerProblem(error);
  }
  return record(
    services,
    claims,
    productId,
    publicId,
    {
      asset_version: asset.version,
      format: asset.format,
      width: asset.width,
      height: asset.height,
      bytes: inspected.bytes,
      checksum: inspected.checksum,
      placeholder: placeholderOf(asset),
    },
    { alt_text: input.alt_text, variant_id: input.variant_id ?? null },
    replace?.expectedVersion ?? null,
    keyed,
  );
}

/**
 * Signed parameters for a browser's direct upload of a new image (or a new version of one). A
 * repeated Idempotency-Key answers the first signature (the same public id), reserving nothing more.
 */
export async function signBrowserUpload(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string | undefined,
  idempotencyKey?: string,
) {
  const provider = requireProvider(services);
  const request = { product_id: productId, image_id: imageId ?? null };
  return idempotentAsUser(services.db, claims, idempotencyKey, "signImageUpload", request, async (tx) => {
    const publicId = newPublicId(provider, productId);
    await tx.query("select private.image_reserve_upload($1, $2, $3, make_interval(secs => $4))", [
      productId,
      imageId ?? null,
      publicId,
      BROWSER_UPLOAD_TTL_SECONDS,
    ]);
    const signed = provider.signUpload({
      public_id: publicId,
      allowed_formats: IMAGE_FORMATS.join(","),
      colors: "true",
    });
    return {
      ...signed,
      public_id: publicId,
      allowed_formats: [...IMAGE_FORMATS],
      max_bytes: provider.maxBytes,
      expires_at: new Date(Date.now() + BROWSER_UPLOAD_TTL_SECONDS * 1000).toISOString(),
    };
  });
}

export interface ConfirmInput {
  upload: { public_id: string; version: number; signature: string; colors?: [string, number][] };
  alt_text?: string;
  variant_id?: string;
  version?: number;
}

/**
 * Records a browser's direct upload. The response must carry the provider's signature, and its
 * public id must be one this product reserved; then the bytes are fetched back and held to the same
 * rules as an API upload (size, type by magic bytes). A refused asset is deleted at the provider.
 */
export async function confirmBrowserUpload(
  services: Services,
  claims: DbClaims,
  productId: string,
  input: ConfirmInput,
  expectedVersion: number | null,
  idempotencyKey?: string,
): Promise<Answer<Image>> {
  const provider = requireProvider(services);
  const { public_id: publicId, version, signature } = input.upload;
  if (!provider.verifyResponse(publicId, version, signature)) {
    throw new Problem("validation-failed", "the upload response does not carry the image provider's signature", {
      errors: [{ field: "body.upload.signature", message: "not the provider's signature of public_id and version" }],
    });
  }
  const keyed: Keyed = {
    key: idempotencyKey,
    operation: "confirmProductImage",
    request: { product_id: productId, expected_version: expectedVersion, ...input },
  };
  const earlier = await earlierImage(services, claims, keyed);
  if (earlier) return { result: earlier, replayed: true };
  const pending = await callAsUser<boolean>(
    services.db,
    claims,
    "select private.image_upload_pending($1, $2) as result",
    [productId, publicId],
  );
  if (!pending) {
    throw new Problem("not-found", `no pending upload ${publicId} for this product (expired or already confirmed)`);
  }

  let bytes: Uint8Array;
  try {
    bytes = await provider.download(publicId, version, provider.maxBytes);
  } catch (error) {
    if (error instanceof ImageProviderError && error.status === 404) {
      throw new Problem("not-found", `the image provider has no ${publicId} at version ${version}`);
    }
    return providerProblem(error);
  }
  let inspected: InspectedImage;
  try {
    if (bytes.byteLength > provider.maxBytes) {
      throw new Problem("payload-too-large", `the upload is larger than ${provider.maxBytes} bytes; it was deleted`, {
        errors: [{ field: "body.upload", message: `larger than ${provider.maxBytes} bytes` }],
        max_bytes: provider.maxBytes,
      });
    }
    inspected = await inspectOrRefuse(bytes);
  } catch (error) {
    await provider.destroy(publicId).catch(() => undefined);
    throw error;
  }
  return record(
    services,
    claims,
    productId,
    publicId,
    {
      asset_version: version,
      format: inspected.format,
      width: inspected.width,
      height: inspected.height,
      bytes: inspected.bytes,
      checksum: inspected.checksum,
      placeholder: placeholderOf(input.upload),
    },
    { alt_text: input.alt_text, variant_id: input.variant_id ?? null },
    expectedVersion,
    keyed,
  );
}

/** A product's images in order (anyone for a published product; viewer and up for any). */
export async function listImages(services: Services, claims: DbClaims, productId: string): Promise<Image[]> {
  const rows = await callAsUser<ImageRow[] | null>(
    services.db,
    claims,
    "select private.product_images_json(p.id) as result from public.products p where p.id = $1 and p.deleted_at is null",
    [productId],
  );
  if (!rows) throw new Problem("not-found", `no product ${productId}`);
  return rows.map((row) => withUrls(services, row));
}

export async function getImage(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string,
): Promise<Image> {
  const image = (await listImages(services, claims, productId)).find((candidate) => candidate.id === imageId);
  if (!image) throw new Problem("not-found", `no image ${imageId} on product ${productId}`);
  return image;
}

export async function listVersions(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string,
): Promise<ImageVersion[]> {
  const rows = await callAsUser<Omit<ImageVersion, "urls">[]>(
    services.db,
    claims,
    "select private.product_image_versions_json($1, $2) as result",
    [productId, imageId],
  );
  if (rows.length === 0) throw new Problem("not-found", `no image ${imageId} on product ${productId}`);
  return rows.map((row) => withUrls(services, row));
}

export async function updateImage(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string,
  expectedVersion: number | null,
  patch: Record<string, unknown>,
): Promise<Image> {
  const row = await callAsUser<ImageRow>(
    services.db,
    claims,
    "select private.image_update($1, $2, $3, $4::jsonb) as result",
    [productId, imageId, expectedVersion, JSON.stringify(patch)],
  );
  return withUrls(services, row);
}

export async function reorderImages(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageIds: string[],
): Promise<Image[]> {
  const rows = await callAsUser<ImageRow[]>(
    services.db,
    claims,
    "select private.image_reorder($1, $2::uuid[]) as result",
    [productId, imageIds],
  );
  return rows.map((row) => withUrls(services, row));
}

export async function restoreImage(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string,
  expectedVersion: number | null,
  versionId: number,
): Promise<Image> {
  const row = await callAsUser<ImageRow>(
    services.db,
    claims,
    "select private.image_restore($1, $2, $3, $4) as result",
    [productId, imageId, expectedVersion, versionId],
  );
  return withUrls(services, row);
}

/** Deletes the image and its history now; their assets leave the provider through the images.destroy job. */
export async function deleteImage(
  services: Services,
  claims: DbClaims,
  productId: string,
  imageId: string,
  expectedVersion: number | null,
): Promise<void> {
  await services.db.asUser(claims, (tx) =>
    tx.query("select private.image_delete($1, $2, $3)", [productId, imageId, expectedVersion]),
  );
}

/**
 * The images.destroy job: expired upload reservations join the deletion queue; due deletions are
 * sent to the provider, each retried with backoff until the provider confirms (or says it has none).
 */
export async function destroyQueuedAssets(
  db: Db,
  provider: ImageProvider | undefined,
  maxItems = 20,
): Promise<{ expired: number; destroyed: number; failed: number }> {
  const { rows: expiredRows } = await db.query<{ expired: number }>("select private.image_expire_uploads() as expired");
  const expired = expiredRows[0]?.expired ?? 0;
  if (!provider) return { expired, destroyed: 0, failed: 0 };
  const { rows } = await db.query<{ public_id: string }>(
    "select public_id from private.image_claim_deletions($1) as public_id",
    [maxItems],
  );
  let destroyed = 0;
  let failed = 0;
  for (const { public_id } of rows) {
    try {
      await provider.destroy(public_id);
      await db.query("select private.image_deletion_done($1)", [public_id]);
      destroyed += 1;
    } catch (error) {
      await db.query("select private.image_deletion_failed($1, $2)", [
        public_id,
        error instanceof Error ? error.message : String(error),
      ]);
      failed += 1;
    }
  }
  return { expired, destroyed, failed };
}
