import type { Context } from "hono";
import type { AppEnv } from "./env.ts";

/**
 * The caller's address as the gateway in front reports it. Proxies append to `X-Forwarded-For`, so
 * only the hops our own proxies appended can be trusted: with TRUSTED_PROXY_HOPS = n (default 1,
 * the platform's gateway) it is the n-th hop from the right; anything left of it is whatever the
 * client sent. Else `X-Real-IP`; null when neither is there (a direct local call). Use it for
 * records and limits, never for access.
 */
export function clientAddress(c: Context<AppEnv>): string | null {
  const hops = c.req.header("x-forwarded-for")?.split(",");
  const trusted = c.get("services")?.config.trustedProxyHops ?? 1;
  const forwarded = hops?.[Math.max(0, hops.length - trusted)]?.trim();
  const address = forwarded || c.req.header("x-real-ip")?.trim();
  return address ? address.slice(0, 100) : null;
}
