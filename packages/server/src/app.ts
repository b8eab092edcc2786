import { OpenAPIHono } from "@hono/zod-openapi";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import { accessConstraints } from "./domains/access/constraints.ts";
import { accessRoutes } from "./domains/access/routes.ts";
import { apiKeyAlertConstraints, apiKeyConstraints } from "./domains/api-keys/constraints.ts";
import { apiKeyEventTypes } from "./domains/api-keys/event-types.ts";
import { apiKeyRoutes } from "./domains/api-keys/routes.ts";
import { recordApiKeyUsage } from "./domains/api-keys/usage/record.ts";
import { cacheConstraints } from "./domains/cache/constraints.ts";
import { cacheRoutes } from "./domains/cache/routes.ts";
import { catalogCacheRules } from "./domains/catalog/cache.ts";
import { catalogConstraints } from "./domains/catalog/constraints.ts";
import { catalogEventTypes } from "./domains/catalog/event-types.ts";
import { pmsProductHandler } from "./domains/catalog/inbound.ts";
import { catalogRoutes } from "./domains/catalog/routes.ts";
import { imageCacheRules } from "./domains/images/cache.ts";
import { imageConstraints } from "./domains/images/constraints.ts";
import { imageEventTypes } from "./domains/images/event-types.ts";
import { imageRoutes } from "./domains/images/routes.ts";
import { inventoryConstraints } from "./domains/inventory/constraints.ts";
import { inventoryEventTypes } from "./domains/inventory/event-types.ts";
import { pmsInventoryHandler } from "./domains/inventory/inbound.ts";
import { inventoryRoutes } from "./domains/inventory/routes.ts";
import { observabilityConstraints } from "./domains/observability/constraints.ts";
import { metricsRoutes } from "./domains/observability/routes.ts";
import { orderConstraints } from "./domains/orders/constraints.ts";
import { orderEventTypes } from "./domains/orders/event-types.ts";
import { pmsOrderHandler } from "./domains/orders/inbound.ts";
import { orderRoutes } from "./domains/orders/routes.ts";
import { syncConstraints } from "./domains/sync/constraints.ts";
import { syncRoutes } from "./domains/sync/routes.ts";
import { systemConstraints } from "./domains/system/constraints.ts";
import { systemRoutes } from "./domains/system/routes.ts";
import { webhookConstraints } from "./domains/webhooks/constraints.ts";
import { documentEventTypes } from "./domains/webhooks/event-types/routes.ts";
import { webhookEventTypes } from "./domains/webhooks/event-types.ts";
import { createWebhookRoutes } from "./domains/webhooks/routes.ts";
import { mountDocs } from "./http/docs.ts";
import type { AppEnv, Services } from "./http/env.ts";
import { handleError } from "./http/errors.ts";
import { authenticate } from "./http/middleware/authenticate.ts";
import { bodyLimits } from "./http/middleware/body-limits.ts";
import { cors } from "./http/middleware/cors.ts";
import { httpCaching } from "./http/middleware/http-cache.ts";
import { rejectUnknownQuery } from "./http/middleware/known-query.ts";
import { httpMetrics } from "./http/middleware/metrics.ts";
import { rateLimit } from "./http/middleware/rate-limit.ts";
import { requestId } from "./http/middleware/request-id.ts";
import { requestLog } from "./http/middleware/request-log.ts";
import { problemResponse } from "./http/problems.ts";
import type { CacheRule } from "./platform/cache/rules.ts";
import type { EventType } from "./platform/event-type.ts";
import type { AnyInboundHandler } from "./platform/inbound-handler.ts";

export const API_VERSION = "1.0.0";

// What must know every domain is a list each domain exports and this root gathers: adding a domain
// is a change in its folder plus a line here.

/**
 * Every topic Storekeep emits, one list per domain (`domains/<name>/event-types.ts`). A topic a migration
 * emits without an entry here fails tests/webhooks.event-catalogue.test.ts.
 */
export const eventTypes: readonly EventType[] = [
  ...apiKeyEventTypes,
  ...catalogEventTypes,
  ...imageEventTypes,
  ...inventoryEventTypes,
  ...orderEventTypes,
  ...webhookEventTypes,
];

/**
 * Cache invalidation: outbox topic -> the cached families its commit retires, one list per domain
 * (`domains/<name>/cache.ts`). tests/cache.rules.test.ts fails when a catalog topic has no rule.
 */
export const cacheRules: readonly CacheRule[] = [...catalogCacheRules, ...imageCacheRules];

/** Every inbound webhook source with a handler, each from the domain it changes (`domains/<name>/inbound.ts`). */
export const inboundHandlers: readonly AnyInboundHandler[] = [pmsProductHandler, pmsInventoryHandler, pmsOrderHandler];

/** Every named constraint in the migrations, by name: its field and sentence (tests check none is missing). */
export const constraintRules = {
  ...systemConstraints,
  ...accessConstraints,
  ...apiKeyConstraints,
  ...apiKeyAlertConstraints,
  ...catalogConstraints,
  ...cacheConstraints,
  ...imageConstraints,
  ...webhookConstraints,
  ...observabilityConstraints,
  ...inventoryConstraints,
  ...orderConstraints,
  ...syncConstraints,
};

/** Headers a browser client may send: auth, request signing, idempotency and concurrency control. */
const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "X-Request-Id",
  "X-Request-Signature",
  "X-Request-Timestamp",
  "X-Request-Nonce",
  "Idempotency-Key",
  "If-Match",
  "If-None-Match",
  "apikey",
  "x-client-info",
];

export interface AppOptions {
  /** Request metrics middleware (default on; bench/http turns it off to measure its cost). */
  httpMetrics?: boolean;
  /** The request log line (default on; bench/http turns it off to measure its cost). */
  requestLog?: boolean;
}

/** The `api` edge function: every route under `/api/v1`, the same on Deno and Node. */
export function createApp(services: Services, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>().basePath("/api");

  if (options.httpMetrics !== false) app.use("*", httpMetrics(services.metrics));
  app.use("*", requestId);
  app.use("*", async (c, next) => {
    c.set("services", services);
    c.set("constraints", constraintRules);
    await next();
  });
  if (options.requestLog !== false) app.use("*", requestLog);
  app.use("*", bodyLimits());
  app.use("*", httpCaching);
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use(
    "*",
    cors({
      origins: services.config.corsOrigins,
      allowHeaders: ALLOWED_HEADERS,
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [
        "X-Request-Id",
        "ETag",
        "Location",
        "Retry-After",
        "Idempotent-Replayed",
        "RateLimit",
        "RateLimit-Policy",
        "X-Cache",
      ],
      maxAge: 600,
    }),
  );
  // Before authentication: the scraper's bearer token is METRICS_TOKEN, not a JWT.
  app.route("/v1", metricsRoutes);
  // A known path asked with a method it lacks is 405 with Allow, not 404. Allow names the methods the
  // routes declare (hono adds HEAD for GET, which Hono answers by itself).
  app.use(
    "*",
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        const allowed = methods.filter((method) => method !== "HEAD");
        c.header("allow", allowed.join(", "));
        return problemResponse(
          c,
          "method-not-allowed",
          `${c.req.method} is not allowed here; use ${allowed.join(", ")}`,
        );
      },
    }),
  );
  app.use("*", authenticate);
  // Ahead of the rate limit, so a key's refused requests (429) count in its usage too.
  app.use("*", recordApiKeyUsage(services.config.usageRetentionDays));
  // After authentication: the caller (key, user, or address when anonymous) owns the counter.
  if (services.config.rateLimits.enabled) app.use("*", rateLimit(services.config.rateLimits, services.metrics));
  app.use(
    "*",
    rejectUnknownQuery(() => app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "", version: API_VERSION } })),
  );

  app.route("/v1", systemRoutes);
  app.route("/v1", accessRoutes);
  app.route("/v1", apiKeyRoutes);
  app.route("/v1", catalogRoutes);
  app.route("/v1", imageRoutes);
  app.route("/v1", createWebhookRoutes({ eventTypes, inboundHandlers }));
  app.route("/v1", syncRoutes);
  app.route("/v1", cacheRoutes);
  documentEventTypes(app.openAPIRegistry, eventTypes);
  app.route("/v1", inventoryRoutes);
  app.route("/v1", orderRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A Supabase access token; staff roles come from its `app_role` claim.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "apiKey",
    in: "header",
    name: "X-Api-Key",
    description:
      "A server's API key (`sk_live_…`), holding the scope the route lists and acting with at most its role cap. Writes must be signed (X-Request-Timestamp, X-Request-Nonce, X-Request-Signature: see the README, Signed requests).",
  });
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Storekeep API",
      version: API_VERSION,
      description: "Product management and inventory for online retail. Errors are RFC 9457 problem details.",
    },
    servers: [{ url: "/functions/v1", description: "Supabase edge function base" }],
  });
  mountDocs(app);

  app.notFound((c) => problemResponse(c, "not-found", `no route for ${c.req.path}`));
  app.onError(handleError);
  return app;
}
