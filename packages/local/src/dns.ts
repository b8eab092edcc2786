import { lookup } from "node:dns/promises";
import type { HostResolver } from "../../server/src/platform/dns.ts";

/** Node's resolver (getaddrinfo, like the connection fetch will make) for the webhook URL policy. */
export const nodeResolver: HostResolver = {
  async resolve(hostname) {
    const addresses = await lookup(hostname, { all: true, verbatim: true });
    return addresses.map((entry) => entry.address);
  },
};
