import type { Config } from "../platform/config.ts";
import type { Db } from "../platform/db/types.ts";
import type { Caller, TokenVerifier } from "./auth.ts";
import type { Logger } from "./logger.ts";

/** What every request can reach: its id, its caller, and the services built at start-up. */
export interface Services {
  config: Config;
  db: Db;
  tokens: TokenVerifier;
  logger: Logger;
  /** Named readiness checks, each resolving when its dependency answers. */
  readiness: Record<string, () => Promise<void>>;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    caller: Caller;
    services: Services;
  };
}
