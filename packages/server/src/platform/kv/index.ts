import type { Config } from "../config.ts";
import { createMemoryState } from "./memory.ts";
import type { SharedState, StoreObserver } from "./types.ts";
import { createUpstashState } from "./upstash.ts";

export type {
  CacheStore,
  Counters,
  KeyValueStore,
  RateDecision,
  RateLimiter,
  RateRule,
  SharedState,
  StoreObserver,
} from "./types.ts";
export { StoreUnavailableError } from "./types.ts";

/** Upstash when configured (production, or the local bridge in front of REDIS_URL), else in-process. */
export function createSharedState(config: Config, observer?: StoreObserver): SharedState {
  if (!config.upstash) return createMemoryState();
  return createUpstashState({ ...config.upstash, observer });
}
