import type { Context } from "hono";

/**
 * The caller's address as the platform's gateway reports it: the first hop of `X-Forwarded-For`
 * (Supabase's edge sets it), else `X-Real-IP`; null when neither is there (a direct local call).
 * Only as trustworthy as the gateway in front: use it for records and limits, never for access.
 */
export function clientAddress(c: Context): string | null {
  const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
  const address = forwarded || c.req.header("x-real-ip")?.trim();
  return address ? address.slice(0, 100) : null;
}
