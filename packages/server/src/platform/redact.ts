import type { Config } from "./config.ts";

/** Replaces secrets in text that leaves the process (log lines, error reports) with `[redacted]`. */
export type Redactor = (text: string) => string;

const MASK = "[redacted]";

// Shapes of credentials that may turn up in an error message or a driver's text, whatever their value.
const PATTERNS: [RegExp, string][] = [
  // JWTs (and any JOSE compact serialization): base64url JSON header, payload, signature.
  [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, MASK],
  // Standard Webhooks secrets; API keys (sk_live_/sk_test_) and their signing secrets (sks_).
  [/whsec_[A-Za-z0-9+/=]+/g, MASK],
  [/\bsks?_[A-Za-z0-9_-]{20,}/g, MASK],
  // An Authorization value.
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${MASK}`],
  // The password of a URL: postgres://user:password@host, cloudinary://key:secret@cloud.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']*):[^\s@/"']+@/gi, `$1:${MASK}@`],
  // key=value and "key": "value" where the key names a secret (connection strings, query strings, JSON).
  [
    /\b(\w*?(?:password|passwd|pwd|secret|token|api[_-]?key|signature))(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
    `$1$2${MASK}`,
  ],
];

// What every pattern above starts with: a string without any of these needs no replacing, and
// nearly every string logged (ids, routes, methods, times) is such a string. One test, not six scans.
const SUSPECT_SOURCES = [
  "eyJ",
  "whsec_",
  "sks?_",
  "bearer",
  "basic",
  ":\\/\\/",
  "passw",
  "pwd",
  "secret",
  "token",
  "api[_-]?key",
  "signature",
];

/**
 * A redactor for the given secret values (exact matches, however they appear) and the credential
 * shapes above. Values shorter than 8 characters are ignored: they would mask ordinary words.
 */
export function createRedactor(secrets: readonly (string | undefined)[] = []): Redactor {
  const values = [...new Set(secrets.filter((value): value is string => !!value && value.length >= 8))].sort(
    (a, b) => b.length - a.length,
  );
  const escaped = values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const exact = escaped.length ? new RegExp(escaped.join("|"), "g") : undefined;
  const suspect = new RegExp([...SUSPECT_SOURCES, ...escaped].join("|"), "i");
  return (text) => {
    if (!suspect.test(text)) return text;
    let out = exact ? text.replace(exact, MASK) : text;
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/** Every secret value the configuration holds, for `createRedactor`. */
export function configSecrets(config: Config): string[] {
  const urlPassword = (text: string | undefined) => {
    if (!text) return undefined;
    try {
      return decodeURIComponent(new URL(text).password) || undefined;
    } catch {
      return undefined;
    }
  };
  return [
    config.jwtSecret,
    config.metricsToken,
    urlPassword(config.databaseUrl),
    config.upstash?.token,
    config.svix?.apiKey,
    config.images?.apiSecret,
    ...Object.values(config.inboundWebhookSecrets).flat(),
  ].filter((value): value is string => !!value);
}
