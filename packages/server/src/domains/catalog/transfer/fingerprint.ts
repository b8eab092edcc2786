const BLOCK = 1024 * 1024;

/**
 * A fingerprint of a streamed body without holding it: SHA-256 of each 1 MiB block, then SHA-256
 * of those digests in order. The same bytes give the same fingerprint however they arrive.
 */
export class BodyFingerprint {
  private readonly block = new Uint8Array(BLOCK);
  private filled = 0;
  private readonly digests: Uint8Array[] = [];

  async add(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) {
      const taken = Math.min(BLOCK - this.filled, bytes.byteLength - at);
      this.block.set(bytes.subarray(at, at + taken), this.filled);
      this.filled += taken;
      at += taken;
      if (this.filled === BLOCK) await this.seal();
    }
  }

  async digest(): Promise<string> {
    if (this.filled > 0) await this.seal();
    const all = new Uint8Array(this.digests.length * 32);
    for (const [i, digest] of this.digests.entries()) all.set(digest, i * 32);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
    return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  private async seal() {
    this.digests.push(new Uint8Array(await crypto.subtle.digest("SHA-256", this.block.subarray(0, this.filled))));
    this.filled = 0;
  }
}
