import { Webhook } from "svix";

/**
 * Standard Webhooks signing and verification with svix's `Webhook`. Instances are cached per
 * secret by the caller-owned `SignerCache`, so a busy dispatcher does not re-decode secrets.
 */
export class SignerCache {
  readonly #signers = new Map<string, Webhook>();

  get(secret: string): Webhook {
    let signer = this.#signers.get(secret);
    if (!signer) {
      signer = new Webhook(secret);
      if (this.#signers.size > 1000) this.#signers.clear();
      this.#signers.set(secret, signer);
    }
    return signer;
  }

  /** `webhook-signature`: one `v1,<base64>` per active secret, space-separated (rotation overlap). */
  signature(secrets: readonly string[], messageId: string, timestamp: Date, body: string): string {
    return secrets.map((secret) => this.get(secret).sign(messageId, timestamp, body)).join(" ");
  }
}

export type VerifyHeaders = Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>;

/**
 * True when the body verifies against any of the secrets (svix checks the signature and that the
 * timestamp is within 5 minutes of now).
 */
export function verifiesWithAny(secrets: readonly string[], body: string, headers: VerifyHeaders): boolean {
  return secrets.some((secret) => {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch {
      return false;
    }
  });
}
