import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { fieldErrors } from "./errors.ts";
import { Problem } from "./problems.ts";

/** A router whose validation failures become 422 problems naming each field at fault. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new Problem("validation-failed", "the request has invalid fields", {
          errors: fieldErrors(result.error, result.target),
        });
      }
    },
  });
}

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://storekeep.dev/problems/validation-failed" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** The error answers every authenticated route can give, for its OpenAPI entry. */
export const commonErrors = {
  400: problem("Malformed request (for example invalid JSON)"),
  401: problem("Missing or invalid bearer token"),
  403: problem("The caller's role does not allow this"),
  422: problem("Validation failed; `errors` names each field"),
  500: problem("Unexpected error; quote `request_id`"),
} as const;

export const errorResponse = problem;

export const bearerAuth = [{ bearerAuth: [] }];

/** `{id}` path parameter of every resource addressed by uuid. */
export const IdParamSchema = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

/** A JSON response of a route: `responses: { 200: jsonResponse("The order", OrderSchema) }`. */
export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

/** A required JSON request body of a route. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});
