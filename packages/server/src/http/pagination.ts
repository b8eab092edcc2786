import { z } from "@hono/zod-openapi";
import { Problem } from "./problems.ts";

/** `?limit=&cursor=` for every list; the cursor is opaque to clients (base64url JSON). */
export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ example: 50 }),
  cursor: z.string().max(512).optional().openapi({ description: "`next_cursor` of the previous page" }),
});

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

export function encodeCursor(position: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(position));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Decodes a cursor and checks its shape; a forged or stale cursor is a 422 on `cursor`. */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  try {
    const base64 = cursor.replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)));
    return shape.parse(JSON.parse(json));
  } catch {
    throw new Problem("validation-failed", "the cursor is not valid", {
      errors: [{ field: "query.cursor", message: "not a cursor this API issued" }],
    });
  }
}

/** Takes `limit + 1` rows: the extra one only says whether another page exists. */
export function toPage<T>(rows: T[], limit: number, positionOf: (row: T) => unknown) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null };
}
