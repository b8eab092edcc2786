import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/env.ts";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../http/idempotency.ts";
import {
  commonErrors,
  createRouter,
  errorResponse,
  IdParamSchema,
  jsonBody,
  jsonResponse,
} from "../../http/openapi.ts";
import { Problem } from "../../http/problems.ts";
import { locateAt, locateCreated } from "../../http/public-path.ts";
import { routesFor } from "../../http/route.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../http/versioning.ts";
import {
  ConfirmSchema,
  ImageListSchema,
  ImageParamsSchema,
  ImagePatchSchema,
  ImageSchema,
  ImageVersionSchema,
  ReorderSchema,
  ReplaceFormSchema,
  RestoreSchema,
  SignatureRequestSchema,
  SignatureSchema,
  UploadFormSchema,
} from "./schemas.ts";
import {
  confirmBrowserUpload,
  deleteImage,
  getImage,
  listImages,
  listVersions,
  readUpload,
  reorderImages,
  restoreImage,
  signBrowserUpload,
  updateImage,
  uploadImage,
} from "./service.ts";

const multipart = <T>(schema: T) => ({ required: true, content: { "multipart/form-data": { schema } } });
const imageResponse = (description: string) => jsonResponse(description, ImageSchema);
const writeErrors = {
  404: errorResponse("No such product or image"),
  409: errorResponse("Stale version (the problem's `current` holds the image)"),
};
const uploadErrors = {
  ...writeErrors,
  413: errorResponse("The file is larger than the configured limit (IMAGES_MAX_BYTES); nothing was stored"),
  415: errorResponse("The file is not a JPEG, PNG, WebP, AVIF or GIF (judged by its bytes); nothing was stored"),
  503: errorResponse("The image provider failed or is not configured; nothing was recorded"),
};

/** Refuses a body past the upload limit while it streams in (413), before any of it is parsed. */
const limitUploadBody = createMiddleware<AppEnv>(async (c, next) => {
  const maxBytes = c.var.services.images?.maxBytes;
  if (maxBytes === undefined) throw new Problem("unavailable", "no image provider is configured (CLOUDINARY_URL)");
  return bodyLimit({
    maxSize: maxBytes + 64 * 1024, // the file plus its multipart envelope and the other fields
    onError: () => {
      throw new Problem("payload-too-large", `the request is larger than the ${maxBytes}-byte upload limit allows`, {
        errors: [{ field: "body.file", message: `larger than ${maxBytes} bytes` }],
        max_bytes: maxBytes,
      });
    },
  })(c, next);
});

const { open, secured } = routesFor("images");
const KeyAndIfMatchSchema = IfMatchHeaderSchema.extend(IdempotencyKeyHeaderSchema.shape);

export const imageRoutes = createRouter();

const listProductImagesRoute = open(
  {
    operationId: "listProductImages",
    method: "get",
    path: "/products/{id}/images",
    summary: "A product's images in gallery order, with delivery URLs (anyone: published products; viewer and up: all)",
    request: { params: IdParamSchema },
    responses: {
      200: jsonResponse("The images", ImageListSchema),
      404: errorResponse("No such product"),
      ...commonErrors,
    },
  },
  "catalog:read",
);
imageRoutes.openapi(listProductImagesRoute, async (c) =>
  c.json({ data: await listImages(c.var.services, c.var.caller.claims, c.req.valid("param").id) }, 200),
);

const uploadProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "uploadProductImage",
    method: "post",
    path: "/products/{id}/images",
    summary: "Upload an image (multipart) through the API to the image provider",
    middleware: [limitUploadBody],
    request: { params: IdParamSchema, headers: IdempotencyKeyHeaderSchema, body: multipart(UploadFormSchema) },
    responses: {
      201: imageResponse("The new image, last in the gallery (primary if it is the first)"),
      ...uploadErrors,
    },
  },
);
imageRoutes.openapi(uploadProductImageRoute, async (c) => {
  const form = c.req.valid("form");
  const { result: image, replayed } = await uploadImage(
    c.var.services,
    c.var.caller.claims,
    c.req.valid("param").id,
    { bytes: await readUpload(c.var.services, form.file), alt_text: form.alt_text, variant_id: form.variant_id },
    { idempotencyKey: c.req.valid("header")["idempotency-key"] },
  );
  markReplayed(c, replayed);
  locateCreated(c, image.id);
  c.header("ETag", etag(image.version));
  return c.json(image, 201);
});

const signImageUploadRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "signImageUpload",
    method: "post",
    path: "/images/signature",
    summary: "Signed parameters for a browser to upload one image straight to the provider",
    request: { body: jsonBody(SignatureRequestSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      200: jsonResponse("POST the file with these fields to upload_url, then confirm", SignatureSchema),
      ...writeErrors,
      503: errorResponse("No image provider is configured"),
    },
  },
);
imageRoutes.openapi(signImageUploadRoute, async (c) => {
  const body = c.req.valid("json");
  const { result, replayed } = await signBrowserUpload(
    c.var.services,
    c.var.caller.claims,
    body.product_id,
    body.image_id,
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 200);
});

const confirmProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "confirmProductImage",
    method: "post",
    path: "/products/{id}/images/confirm",
    summary: "Record a browser's direct upload after checking the provider's response signature",
    request: { params: IdParamSchema, headers: KeyAndIfMatchSchema, body: jsonBody(ConfirmSchema) },
    responses: {
      201: imageResponse("The new image, or the image with its new version"),
      ...uploadErrors,
    },
  },
);
imageRoutes.openapi(confirmProductImageRoute, async (c) => {
  const body = c.req.valid("json");
  const headers = c.req.valid("header");
  const { result: image, replayed } = await confirmBrowserUpload(
    c.var.services,
    c.var.caller.claims,
    c.req.valid("param").id,
    body,
    expectedVersion(headers["if-match"], body.version),
    headers["idempotency-key"],
  );
  markReplayed(c, replayed);
  locateAt(c, "/confirm", `/${image.id}`);
  c.header("ETag", etag(image.version));
  return c.json(image, 201);
});

const getProductImageRoute = open({
  operationId: "getProductImage",
  method: "get",
  path: "/products/{id}/images/{image_id}",
  summary: "One image of a product, with delivery URLs (anyone: published products; viewer and up: all)",
  request: { params: ImageParamsSchema },
  responses: {
    200: imageResponse("The image (its ETag is its version)"),
    404: errorResponse("No such product or image"),
    ...commonErrors,
  },
});
imageRoutes.openapi(getProductImageRoute, async (c) => {
  const { id, image_id } = c.req.valid("param");
  const image = await getImage(c.var.services, c.var.caller.claims, id, image_id);
  c.header("ETag", etag(image.version));
  return c.json(image, 200);
});

const updateProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "updateProductImage",
    method: "patch",
    path: "/products/{id}/images/{image_id}",
    summary: "Change alt text or variant, or make the image primary",
    request: { params: ImageParamsSchema, headers: IfMatchHeaderSchema, body: jsonBody(ImagePatchSchema) },
    responses: { 200: imageResponse("The image after the change"), ...writeErrors },
  },
);
imageRoutes.openapi(updateProductImageRoute, async (c) => {
  const { version, ...patch } = c.req.valid("json");
  const { id, image_id } = c.req.valid("param");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const image = await updateImage(c.var.services, c.var.caller.claims, id, image_id, expected, patch);
  c.header("ETag", etag(image.version));
  return c.json(image, 200);
});

const reorderProductImagesRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "reorderProductImages",
    method: "post",
    path: "/products/{id}/images/reorder",
    summary: "Put the product's images in a new order",
    request: { params: IdParamSchema, body: jsonBody(ReorderSchema) },
    responses: { 200: jsonResponse("The images in their new order", ImageListSchema), ...writeErrors },
  },
);
imageRoutes.openapi(reorderProductImagesRoute, async (c) => {
  const images = await reorderImages(
    c.var.services,
    c.var.caller.claims,
    c.req.valid("param").id,
    c.req.valid("json").image_ids,
  );
  return c.json({ data: images }, 200);
});

const replaceProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "replaceProductImage",
    method: "post",
    path: "/products/{id}/images/{image_id}/replace",
    summary: "Upload a new version of an image (multipart); the previous one stays restorable",
    middleware: [limitUploadBody],
    request: { params: ImageParamsSchema, headers: KeyAndIfMatchSchema, body: multipart(ReplaceFormSchema) },
    responses: { 200: imageResponse("The image showing its new version"), ...uploadErrors },
  },
);
imageRoutes.openapi(replaceProductImageRoute, async (c) => {
  const form = c.req.valid("form");
  const { id, image_id } = c.req.valid("param");
  const headers = c.req.valid("header");
  const { result: image, replayed } = await uploadImage(
    c.var.services,
    c.var.caller.claims,
    id,
    { bytes: await readUpload(c.var.services, form.file) },
    {
      replace: { imageId: image_id, expectedVersion: expectedVersion(headers["if-match"], form.version) },
      idempotencyKey: headers["idempotency-key"],
    },
  );
  markReplayed(c, replayed);
  c.header("ETag", etag(image.version));
  return c.json(image, 200);
});

const listProductImageVersionsRoute = secured(
  { role: "viewer", scope: "catalog:read" },
  {
    operationId: "listProductImageVersions",
    method: "get",
    path: "/products/{id}/images/{image_id}/versions",
    summary: "Every version an image has had, newest first",
    request: { params: ImageParamsSchema },
    responses: {
      200: jsonResponse("The versions", ImageVersionSchema.array().openapi("ProductImageVersions")),
      404: errorResponse("No such image"),
    },
  },
);
imageRoutes.openapi(listProductImageVersionsRoute, async (c) => {
  const { id, image_id } = c.req.valid("param");
  return c.json(await listVersions(c.var.services, c.var.caller.claims, id, image_id), 200);
});

const restoreProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "restoreProductImage",
    method: "post",
    path: "/products/{id}/images/{image_id}/restore",
    summary: "Show an earlier version of the image again",
    request: { params: ImageParamsSchema, headers: IfMatchHeaderSchema, body: jsonBody(RestoreSchema) },
    responses: { 200: imageResponse("The image showing the restored version"), ...writeErrors },
  },
);
imageRoutes.openapi(restoreProductImageRoute, async (c) => {
  const { version, version_id } = c.req.valid("json");
  const { id, image_id } = c.req.valid("param");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const image = await restoreImage(c.var.services, c.var.caller.claims, id, image_id, expected, version_id);
  c.header("ETag", etag(image.version));
  return c.json(image, 200);
});

const deleteProductImageRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "deleteProductImage",
    method: "delete",
    path: "/products/{id}/images/{image_id}",
    summary: "Delete an image with its history; the provider's copies follow through a retrying job",
    request: { params: ImageParamsSchema, headers: IfMatchHeaderSchema },
    responses: { 204: { description: "Deleted" }, ...writeErrors },
  },
);
imageRoutes.openapi(deleteProductImageRoute, async (c) => {
  const { id, image_id } = c.req.valid("param");
  const expected = expectedVersion(c.req.valid("header")["if-match"], undefined);
  await deleteImage(c.var.services, c.var.caller.claims, id, image_id, expected);
  return c.body(null, 204);
});
