import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { accessConstraints } from "./domains/access/constraints.ts";
import { accessRoutes } from "./domains/access/routes.ts";
import { catalogConstraints } from "./domains/catalog/constraints.ts";
import { catalogRoutes } from "./domains/catalog/routes.ts";
import { imageConstraints } from "./domains/images/constraints.ts";
import { imageRoutes } from "./domains/images/routes.ts";
import { inventoryConstraints } from "./domains/inventory/constraints.ts";
import { inventoryRoutes } from "./domains/inventory/routes.ts";
import { orderConstraints } from "./domains/orders/constraints.ts";
import { orderRoutes } from "./domains/orders/routes.ts";
import { syncConstraints } from "./domains/sync/constraints.ts";
import { syncRoutes } from "./domains/sync/routes.ts";
import { systemConstraints } from "./domains/system/constraints.ts";
import { systemRoutes } from "./domains/system/routes.ts";
import { webhookConstraints } from "./domains/webhooks/constraints.ts";
import { documentEventTypes } from "./domains/webhooks/event-types.ts";
import { webhookRoutes } from "./domains/webhooks/routes.ts";
import { mountDocs } from "./http/docs.ts";
import type { AppEnv, Services } from "./http/env.ts";
import { handleError } from "./http/errors.ts";
import { authenticate } from "./http/middleware/authenticate.ts";
import { bodyLimits } from "./http/middleware/body-limits.ts";
import { rejectUnknownQuery } from "./http/middleware/known-query.ts";
import { requestLog } from "./http/middleware/request-log.ts";
import { notFoundHandler } from "./http/not-found.ts";

export const API_VERSION = "1.0.0";

/** Every named constraint in the migrations, by name: its field and sentence (tests check none is missing). */
export const constraintRules = {
  ...systemConstraints,
  ...accessConstraints,
  ...catalogConstraints,
  ...imageConstraints,
  ...webhookConstraints,
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
  "apikey",
  "x-client-info",
];

/** The `api` edge function: every route under `/api/v1`, the same on Deno and Node. */
export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>().basePath("/api");

  app.use("*", requestId({ headerName: "X-Request-Id", limitLength: 128 }));
  app.use("*", async (c, next) => {
    c.set("services", services);
    c.set("constraints", constraintRules);
    await next();
  });
  app.use("*", requestLog);
  app.use("*", bodyLimits());
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use(
    "*",
    cors({
      origin: services.config.corsOrigins,
      allowHeaders: ALLOWED_HEADERS,
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "ETag", "Location", "Retry-After", "Idempotent-Replayed"],
      maxAge: 600,
    }),
  );
  app.use("*", authenticate);
  app.use(
    "*",
    rejectUnknownQuery(() => app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "", version: API_VERSION } })),
  );

  app.route("/v1", systemRoutes);
  app.route("/v1", accessRoutes);
  app.route("/v1", catalogRoutes);
  app.route("/v1", imageRoutes);
  app.route("/v1", webhookRoutes);
  app.route("/v1", syncRoutes);
  documentEventTypes(app.openAPIRegistry);
  app.route("/v1", inventoryRoutes);
  app.route("/v1", orderRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A Supabase access token; staff roles come from its `app_role` claim.",
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

  app.notFound(notFoundHandler(app));
  app.onError(handleError);
  return app;
}
