import { createHash } from "node:crypto";

// Cloudinary's request signature, as its documentation describes it (written here from the
// protocol, not taken from the SDK, so the SDK is checked against it): every parameter of the call
// except file, cloud_name, resource_type, api_key and signature; empty ones dropped; array values
// joined by ","; sorted by name; `name=value` pairs joined by "&", with a "&" inside a pair written
// "%26" (signature version 2, which closes parameter smuggling; for values without "&" it is
// identical to version 1); the API secret appended; SHA-1 (or SHA-256 when the account says so), hex.

export type SignatureAlgorithm = "sha1" | "sha256";

const UNSIGNED = new Set(["file", "cloud_name", "resource_type", "api_key", "signature"]);

export function stringToSign(params: Record<string, string | string[]>): string {
  return Object.entries(params)
    .filter(([name]) => !UNSIGNED.has(name))
    .map(([name, value]) => [name, Array.isArray(value) ? value.join(",") : value] as const)
    .filter(([, value]) => value !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`.replaceAll("&", "%26"))
    .join("&");
}

export function sign(toSign: string, secret: string, algorithm: SignatureAlgorithm): string {
  return createHash(algorithm)
    .update(toSign + secret)
    .digest("hex");
}

/** The `signature` of an upload response: `public_id=<id>&version=<v>` plus the secret (no %26 encoding). */
export function responseSignature(
  publicId: string,
  version: number,
  secret: string,
  algorithm: SignatureAlgorithm,
): string {
  return sign(`public_id=${publicId}&version=${version}`, secret, algorithm);
}
