// Lua scripts through the bridge. @upstash/ratelimit's scripts begin with
// `#!lua flags=allow-key-locking`, a flag Upstash accepts and Redis 7.0 refuses ("Unexpected flag in
// script shebang"). The bridge drops the flags Redis does not know and remembers which hash the
// client knows the script by (the SHA-1 of the original text, hard-coded in the library) and which
// hash Redis knows it by (the SHA-1 of the rewritten text), so EVALSHA keeps working.
import { createHash } from "node:crypto";
import type { Command } from "./resp.ts";

/** Flags Upstash accepts that this Redis refuses; everything else passes through untouched. */
const UNSUPPORTED_FLAGS = new Set(["allow-key-locking"]);

export function sha1(text: string | Buffer): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The script without the flags Redis refuses; unchanged when there is nothing to drop. */
export function rewriteScript(script: string): string {
  const match = /^#!lua([^\n]*)(\n|$)/.exec(script);
  if (!match) return script;
  const options = (match[1] ?? "").trim().split(/\s+/).filter(Boolean);
  let changed = false;
  const kept = options.flatMap((option) => {
    if (!option.startsWith("flags=")) return [option];
    const flags = option.slice("flags=".length).split(",").filter(Boolean);
    const supported = flags.filter((flag) => !UNSUPPORTED_FLAGS.has(flag));
    if (supported.length === flags.length) return [option];
    changed = true;
    return supported.length ? [`flags=${supported.join(",")}`] : [];
  });
  if (!changed) return script;
  return `#!lua${kept.map((option) => ` ${option}`).join("")}${match[2]}${script.slice(match[0].length)}`;
}

/** Client hash -> Redis hash, for scripts the bridge had to rewrite. */
export class ScriptHashes {
  readonly #redisHash = new Map<string, string>();

  /** Rewrites EVAL / EVALSHA / SCRIPT LOAD / SCRIPT EXISTS on the way to Redis. */
  toRedis(command: Command): Command {
    const name = String(command[0]).toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && command.length > 1) {
      return [command[0] as string, this.#learn(String(command[1])), ...command.slice(2)];
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && command.length > 1) {
      return [command[0] as string, this.#lookup(String(command[1])), ...command.slice(2)];
    }
    if (name === "SCRIPT" && command.length > 2) {
      const sub = String(command[1]).toUpperCase();
      if (sub === "LOAD") return [command[0] as string, command[1] as string, this.#learn(String(command[2]))];
      if (sub === "EXISTS") return [...command.slice(0, 2), ...command.slice(2).map((h) => this.#lookup(String(h)))];
    }
    return command;
  }

  /** SCRIPT LOAD answers the hash the client computes from its own text (`original`), not Redis's. */
  fromRedis(original: Command, reply: unknown): unknown {
    const isLoad = String(original[0]).toUpperCase() === "SCRIPT" && String(original[1] ?? "").toUpperCase() === "LOAD";
    return isLoad && Buffer.isBuffer(reply) ? Buffer.from(sha1(String(original[2]))) : reply;
  }

  #learn(script: string): string {
    const rewritten = rewriteScript(script);
    if (rewritten !== script) this.#redisHash.set(sha1(script), sha1(rewritten));
    return rewritten;
  }

  #lookup(hash: string): string {
    return this.#redisHash.get(hash.toLowerCase()) ?? hash;
  }
}
