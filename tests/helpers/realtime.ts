import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll } from "vitest";
import WebSocket from "ws";
import { type LocalStack, startLocalStack } from "../../packages/local/src/stack.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";

/** The whole local stack (api, /auth/v1, /realtime/v1) on this file's own test database. */
export function useLocalStack(): { readonly stack: LocalStack; readonly database: TestDatabase } {
  let database: TestDatabase | undefined;
  let stack: LocalStack | undefined;
  const clients: SupabaseClient[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    stack = await startLocalStack({
      db: database.db,
      env: { LOG_LEVEL: process.env.STOREKEEP_TEST_LOG ?? "silent" },
      port: 0,
      runJobs: false,
      realtimePollMs: 10,
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.removeAllChannels();
    await stack?.close();
    await database?.drop();
  });
  return {
    get stack() {
      if (!stack) throw new Error("the local stack is not up (use it inside a test or hook)");
      return stack;
    },
    get database() {
      if (!database) throw new Error("the local stack is not up");
      return database;
    },
  };
}

/**
 * An unmodified supabase-js client against the local stack (Node 20: the `ws` transport), signed
 * in with `accessToken` when given (set before any channel joins, as a signed-in session is).
 */
export async function supabaseClient(
  stack: LocalStack,
  options: { accessToken?: string; vsn?: "1.0.0" | "2.0.0" } = {},
): Promise<SupabaseClient> {
  const client = createClient(stack.supabaseUrl, stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never, ...(options.vsn ? { vsn: options.vsn } : {}) },
    ...(options.accessToken ? { global: { headers: { authorization: `Bearer ${options.accessToken}` } } } : {}),
  });
  if (options.accessToken) await client.realtime.setAuth(options.accessToken);
  return client;
}

/** Subscribes and resolves with the final status (SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT, CLOSED). */
export function subscribe(channel: RealtimeChannel, timeoutMs = 5000): Promise<{ status: string; error?: Error }> {
  return new Promise((resolve) => {
    channel.subscribe((status, error) => {
      if (status !== "SUBSCRIBED" && status !== "CHANNEL_ERROR" && status !== "TIMED_OUT") return;
      resolve({ status, error });
    }, timeoutMs);
  });
}

/** Collects what a callback receives; `until` waits for a count or gives up after `ms` (generous: a loaded CI machine delays delivery, and a passing wait returns at once). */
export function collector<T>() {
  const items: T[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    items,
    push(item: T) {
      items.push(item);
      for (const waiter of waiters.filter((w) => items.length >= w.count)) waiter.resolve();
    },
    async until(count: number, ms = 15_000): Promise<T[]> {
      if (items.length < count) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return items;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
