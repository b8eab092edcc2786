import { z } from "@hono/zod-openapi";
import { APP_ROLES } from "../../http/auth.ts";
import { TimestampSchema } from "../../http/schemas.ts";

export const AppRoleSchema = z.enum(APP_ROLES).openapi("AppRole");

export const MeSchema = z
  .object({
    user_id: z.uuid(),
    app_role: AppRoleSchema.nullable(),
  })
  .openapi("Me");

export const UserRoleSchema = z
  .object({
    user_id: z.uuid(),
    app_role: AppRoleSchema,
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi("UserRole");

export const UserIdParamSchema = z.object({
  user_id: z.uuid().openapi({ param: { name: "user_id", in: "path" } }),
});

export const SetRoleBodySchema = z.strictObject({ app_role: AppRoleSchema }).openapi("SetRole");

export type UserRole = z.infer<typeof UserRoleSchema>;
