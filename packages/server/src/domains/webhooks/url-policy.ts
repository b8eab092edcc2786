import { type HostResolver, isIpLiteral, isPublicAddress } from "../../platform/dns.ts";

export interface UrlPolicy {
  /** Local stack: http and private/loopback addresses allowed (WEBHOOKS_ALLOW_PRIVATE_URLS). */
  allowPrivate: boolean;
  resolver: HostResolver;
}

const INTERNAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

/**
 * SSRF rules for webhook endpoint URLs, checked at registration and again before every delivery:
 * in production only https, no credentials, and a host that resolves only to public addresses.
 * Returns why the URL is refused, or undefined when it may be used.
 */
export async function refuseUrl(url: string, policy: UrlPolicy): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "only http(s) URLs are allowed";
  if (parsed.username || parsed.password) return "URLs may not carry credentials";
  if (policy.allowPrivate) return undefined;
  if (parsed.protocol !== "https:") return "only https URLs are allowed";

  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isIpLiteral(host)) return isPublicAddress(host) ? undefined : "the address is private, loopback or link-local";
  if (INTERNAL_NAMES.test(host)) return "the host name is internal";
  let addresses: string[];
  try {
    addresses = await policy.resolver.resolve(host);
  } catch {
    return "the host name could not be resolved";
  }
  if (addresses.length === 0) return "the host name resolves to no address";
  const inside = addresses.find((address) => !isPublicAddress(address));
  return inside ? `the host name resolves to a private, loopback or link-local address (${inside})` : undefined;
}
