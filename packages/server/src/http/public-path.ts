import type { Context } from "hono";

// Any env, not `Context<AppEnv>`: problems.ts uses these, and importing the app's env here would close
// an import cycle (env.ts -> auth.ts -> problems.ts -> here); `services` is absent before it is set.

/** A path prefix a proxy may announce: absolute, segments of URL-safe characters, never `//`. */
const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/**
 * The path the client called for `path` (the function's own path, `/api/v1/...`): the gateway in
 * front of the function strips its prefix (`/functions/v1` on Supabase and in `npm start`) and
 * announces it in `X-Forwarded-Prefix`; without that header the configured prefix applies. Used for
 * `Location` headers and a problem's `instance`, so a client can follow them as they are.
 */
export function publicPath(c: Context, path: string = c.req.path): string {
  const announced = c.req.header("x-forwarded-prefix")?.replace(/\/+$/, "");
  const prefix =
    announced !== undefined && PREFIX.test(announced) ? announced : (c.get("services")?.config.publicPathPrefix ?? "");
  return `${prefix}${path}`;
}

/** `Location` of a resource a POST created under the path it was posted to (`/orders` -> `/orders/{id}`). */
export function locateCreated(c: Context, id: string): void {
  c.header("Location", publicPath(c, `${c.req.path.replace(/\/+$/, "")}/${id}`));
}

/**
 * `Location` of a resource a POST created elsewhere in the API: the called path with its own
 * `suffix` replaced by `target` (`/inventory/adjust` -> `/inventory/movements/7`).
 */
export function locateAt(c: Context, suffix: string, target: string): void {
  const path = c.req.path.replace(/\/+$/, "");
  if (!path.endsWith(suffix)) throw new Error(`${path} does not end with ${suffix}`);
  c.header("Location", publicPath(c, `${path.slice(0, path.length - suffix.length)}${target}`));
}
