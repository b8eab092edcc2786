/**
 * Host name resolution for outbound requests that must not reach private networks (webhook
 * endpoints). Deno resolves with `Deno.resolveDns`; Node's resolver lives in the local stack
 * (packages/local/src/dns.ts) and is injected, so this file stays web-standard.
 */
export interface HostResolver {
  /** Every IPv4 and IPv6 address `hostname` resolves to (empty when it resolves to none). */
  resolve(hostname: string): Promise<string[]>;
}

interface DenoDns {
  resolveDns(query: string, recordType: "A" | "AAAA"): Promise<string[]>;
}

/** Deno's resolver, or undefined when not running on Deno. */
export function createDenoResolver(): HostResolver | undefined {
  const deno = (globalThis as { Deno?: DenoDns }).Deno;
  if (!deno?.resolveDns) return undefined;
  return {
    async resolve(hostname) {
      const lookups = await Promise.allSettled([deno.resolveDns(hostname, "A"), deno.resolveDns(hostname, "AAAA")]);
      return lookups.flatMap((lookup) => (lookup.status === "fulfilled" ? lookup.value : []));
    },
  };
}

/** A resolver that refuses: where none was configured, a private-address check fails closed. */
export const NO_RESOLVER: HostResolver = {
  resolve() {
    return Promise.reject(new Error("no DNS resolver is configured on this platform"));
  },
};

/** A literal IPv4 address as four octets, or undefined. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const octets = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  return octets.every((octet) => octet >= 0 && octet <= 255) ? octets : undefined;
}

/** A literal IPv6 address as eight 16-bit groups (with an embedded IPv4 tail), or undefined. */
function parseIpv6(text: string): number[] | undefined {
  let address = text.replace(/^\[|\]$/g, "").split("%")[0] ?? "";
  if (!address.includes(":")) return undefined;
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (tail?.[1]) {
    const v4 = parseIpv4(tail[1]);
    if (!v4) return undefined;
    address = `${address.slice(0, -tail[1].length)}${((v4[0] ?? 0) * 256 + (v4[1] ?? 0)).toString(16)}:${((v4[2] ?? 0) * 256 + (v4[3] ?? 0)).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined) => (half ? half.split(":") : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const values = all.map((group) => (/^[0-9a-f]{1,4}$/i.test(group) ? Number.parseInt(group, 16) : Number.NaN));
  return values.every((value) => !Number.isNaN(value)) ? values : undefined;
}

export function isIpLiteral(host: string): boolean {
  return parseIpv4(host) !== undefined || parseIpv6(host) !== undefined;
}

/**
 * Whether an address is publicly routable: not private, loopback, link-local, unspecified,
 * carrier-grade NAT, multicast, reserved, or an IPv4-mapped form of one of those.
 */
export function isPublicAddress(address: string): boolean {
  const v4 = parseIpv4(address);
  if (v4) {
    const [a = 0, b = 0] = v4;
    if (a === 0 || a === 10 || a === 127) return false; // this network, private, loopback
    if (a === 100 && b >= 64 && b <= 127) return false; // carrier-grade NAT
    if (a === 169 && b === 254) return false; // link-local (cloud metadata)
    if (a === 172 && b >= 16 && b <= 31) return false; // private
    if (a === 192 && b === 168) return false; // private
    if (a === 192 && b === 0 && (v4[2] === 0 || v4[2] === 2)) return false; // IETF protocol, TEST-NET-1
    if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
    if (a >= 224) return false; // multicast, reserved, broadcast
    return true;
  }
  const v6 = parseIpv6(address);
  if (!v6) return false;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = v6;
  if (v6.every((group) => group === 0)) return false; // unspecified
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && g6 === 0 && g7 === 1) return false; // loopback
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && (g5 === 0xffff || g5 === 0)) {
    // IPv4-mapped or IPv4-compatible: judge the IPv4 address inside.
    return isPublicAddress(`${g6 >> 8}.${g6 & 255}.${g7 >> 8}.${g7 & 255}`);
  }
  if (g0 === 0x64 && g1 === 0xff9b) return isPublicAddress(`${g6 >> 8}.${g6 & 255}.${g7 >> 8}.${g7 & 255}`); // NAT64
  if ((g0 & 0xfe00) === 0xfc00) return false; // unique local
  if ((g0 & 0xffc0) === 0xfe80) return false; // link-local
  if ((g0 & 0xff00) === 0xff00) return false; // multicast
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation
  return true;
}
