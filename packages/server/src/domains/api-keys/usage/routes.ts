import { createRouter, IdParamSchema, jsonResponse } from "../../../http/openapi.ts";
import { routesFor } from "../../../http/route.ts";
import { ApiKeyUsageSchema, UsageQuerySchema } from "./schemas.ts";
import { readUsage, usageDays } from "./service.ts";

const { secured } = routesFor("api-keys");

export const apiKeyUsageRoutes = createRouter();

const getApiKeyUsageRoute = secured(
  { role: "admin", scope: "api_keys:manage" },
  {
    operationId: "getApiKeyUsage",
    method: "get",
    path: "/api-keys/{id}/usage",
    summary: "Requests a key made per day, by route and status (counted within about a second)",
    request: { params: IdParamSchema, query: UsageQuerySchema },
    responses: { 200: jsonResponse("The key's requests, day by day", ApiKeyUsageSchema) },
  },
);
apiKeyUsageRoutes.openapi(getApiKeyUsageRoute, async (c) => {
  const { db, shared } = c.var.services;
  const days = usageDays(c.req.valid("query"), Date.now());
  return c.json(await readUsage(db, shared.counters, c.var.caller.claims, c.req.valid("param").id, days), 200);
});
