import { z } from "@hono/zod-openapi";

const Day = z.iso.date();

export const UsageQuerySchema = z.object({
  from: Day.optional().openapi({
    param: { name: "from", in: "query" },
    description: "First day (UTC, YYYY-MM-DD); default six days before `to`",
    example: "2026-11-25",
  }),
  to: Day.optional().openapi({
    param: { name: "to", in: "query" },
    description: "Last day (UTC, YYYY-MM-DD), included; default today",
    example: "2026-12-01",
  }),
});

const UsageLineSchema = z.object({
  method: z.string().openapi({ example: "GET" }),
  route: z.string().openapi({ description: "The route template, never the raw path", example: "/v1/products/{id}" }),
  status: z.number().int().openapi({ example: 200 }),
  count: z.number().int(),
});

const UsageDaySchema = z.object({
  date: z.string().openapi({ example: "2026-12-01" }),
  total: z.number().int(),
  requests: z.array(UsageLineSchema).openapi({ description: "By route and status, most frequent first" }),
});

export const ApiKeyUsageSchema = z
  .object({
    api_key_id: z.uuid(),
    from: z.string(),
    to: z.string(),
    total: z.number().int(),
    days: z.array(UsageDaySchema).openapi({ description: "Every day of the range, oldest first (empty days too)" }),
  })
  .openapi("ApiKeyUsage");

export type ApiKeyUsage = z.infer<typeof ApiKeyUsageSchema>;
