import type { RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/env.ts";
import { errorResponse } from "../../http/openapi.ts";
import { Problem } from "../../http/problems.ts";

// In Svix Cloud mode (SVIX_API_KEY set) endpoints, secrets, retries and delivery logs live in Svix:
// every endpoint and delivery route answers 409 with where to manage them instead.
const refuseInSvixMode = createMiddleware<AppEnv>(async (c, next) => {
  const elsewhere = c.var.services.webhooks.endpointsManagedElsewhere;
  if (elsewhere) throw new Problem("conflict", elsewhere, { managed_by: "svix" });
  await next();
});

export const SVIX_MODE_NOTE: string =
  "With SVIX_API_KEY set (Svix Cloud mode), endpoints and deliveries are managed in Svix and this route answers 409.";

type ManagedConfig = Omit<RouteConfig, "tags" | "security" | "middleware"> & { summary: string };

/**
 * An endpoint or delivery route's config, made to answer 409 in Svix Cloud mode (said in its
 * description): `secured({ role: "admin", scope: "webhooks:manage" }, managedHere({ operationId: ..., ... }))`.
 */
export function managedHere<const R extends ManagedConfig>(config: R) {
  return {
    description: SVIX_MODE_NOTE,
    ...config,
    middleware: [refuseInSvixMode],
    responses: { ...config.responses, 409: errorResponse("Svix Cloud mode: endpoints are managed in Svix") },
  };
}

export const notFound = errorResponse("No such endpoint or delivery");

/** What the URL policy of an endpoint needs: whether private addresses pass, and a resolver. */
export const urlPolicy = (c: Context<AppEnv>) => ({
  allowPrivate: c.var.services.config.webhooksAllowPrivateUrls,
  resolver: c.var.services.dns,
});
