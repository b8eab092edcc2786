// The local Realtime server: the Phoenix channel protocol of Supabase Realtime over `ws`, for an
// unmodified supabase-js client. Channels carry broadcast, presence and postgres_changes; the feed
// (feed.ts) brings row changes and database broadcasts; access.ts asks the database who may see what.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Caller, TokenVerifier } from "../../../server/src/http/auth.ts";
import type { Db, DbClaims } from "../../../server/src/platform/db/types.ts";
import type { Logger } from "../../../server/src/platform/logger.ts";
import { type ChannelRights, channelRights, publishedTables, type TableInfo, visibleChanges } from "./access.ts";
import { type FeedChange, type FeedMessage, startFeed } from "./feed.ts";
import { type Binding, BindingError, matches, parseBinding } from "./filters.ts";
import { decodeFrame, encodeFrame, encodeUserBroadcast, type Frame, type Vsn } from "./protocol.ts";

export const WEBSOCKET_PATH = "/realtime/v1/websocket";

export interface RealtimeServerOptions {
  db: Db;
  tokens: TokenVerifier;
  logger: Logger;
  /** How often the feed polls Postgres for committed changes. */
  pollIntervalMs?: number;
}

export interface BroadcastMessage {
  topic: string;
  event: string;
  payload: unknown;
  private: boolean;
}

export interface RealtimeServer {
  /** Takes over an HTTP upgrade to WEBSOCKET_PATH; false when the request is not for it. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** The REST broadcast endpoint: delivers, or refuses when a private topic is not the caller's to send to. */
  broadcast(caller: Caller, messages: BroadcastMessage[]): Promise<{ refused?: string }>;
  close(): Promise<void>;
}

interface Connection {
  socket: WebSocket;
  vsn: Vsn;
  apiKeyCaller: Caller;
  joins: Map<string, Join>;
}

interface Join {
  id: string;
  connection: Connection;
  topic: string;
  joinRef: string | null;
  caller: Caller;
  private: boolean;
  rights: ChannelRights;
  self: boolean;
  ack: boolean;
  presenceKey: string;
  bindings: Binding[];
  expiry?: ReturnType<typeof setTimeout>;
}

const CHANNEL_PREFIX = "realtime:";

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
let nextBindingId = 1;

export async function createRealtimeServer(options: RealtimeServerOptions): Promise<RealtimeServer> {
  const { db, tokens, logger } = options;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 * 1024 });
  const topics = new Map<string, Set<Join>>();
  const presence = new Map<string, Map<string, { key: string; meta: Record<string, unknown> }>>();
  let tables = await publishedTables(db);

  const send = (connection: Connection, frame: Frame) => {
    if (connection.socket.readyState === connection.socket.OPEN)
      connection.socket.send(encodeFrame(frame, connection.vsn));
  };
  const push = (join: Join, event: string, payload: Record<string, unknown>) =>
    send(join.connection, { join_ref: join.joinRef, ref: null, topic: join.topic, event, payload });
  const reply = (
    connection: Connection,
    frame: Frame,
    status: "ok" | "error",
    response: Record<string, unknown> = {},
  ) =>
    send(connection, {
      join_ref: frame.join_ref,
      ref: frame.ref,
      topic: frame.topic,
      event: "phx_reply",
      payload: { status, response },
    });

  const deliverBroadcast = (join: Join, event: string, payload: unknown) => {
    const { connection } = join;
    if (payload instanceof ArrayBuffer) {
      // Binary payloads only exist in vsn 2.0.0 (kind 4 frames).
      if (connection.vsn === "2.0.0" && connection.socket.readyState === connection.socket.OPEN) {
        connection.socket.send(encodeUserBroadcast(join.topic, event, payload));
      }
      return;
    }
    push(join, "broadcast", { type: "broadcast", event, payload });
  };

  // --- presence -------------------------------------------------------------------------------
  const presenceState = (topic: string) => {
    const state: Record<string, { metas: Record<string, unknown>[] }> = {};
    const stateKeys = new Map<string, Record<string, unknown>[]>();
    for (const { key, meta } of presence.get(topic)?.values() ?? []) {
      getOrCreate(stateKeys, key, () => []).push(meta);
    }
    for (const [key, metas] of stateKeys) state[key] = { metas };
    return state;
  };
  const presenceDiff = (topic: string, joins: Record<string, unknown>, leaves: Record<string, unknown>) => {
    for (const member of topics.get(topic) ?? []) push(member, "presence_diff", { joins, leaves });
  };
  const untrack = (join: Join) => {
    const tracked = presence.get(join.topic)?.get(join.id);
    if (!tracked) return;
    presence.get(join.topic)?.delete(join.id);
    presenceDiff(join.topic, {}, { [tracked.key]: { metas: [tracked.meta] } });
  };
  const track = (join: Join, payload: unknown) => {
    const previous = presence.get(join.topic)?.get(join.id);
    const meta = { ...(payload && typeof payload === "object" ? payload : {}), phx_ref: randomUUID() };
    getOrCreate(presence, join.topic, () => new Map()).set(join.id, { key: join.presenceKey, meta });
    presenceDiff(
      join.topic,
      { [join.presenceKey]: { metas: [meta] } },
      previous ? { [previous.key]: { metas: [previous.meta] } } : {},
    );
  };

  // --- joining and leaving --------------------------------------------------------------------
  const leave = (join: Join) => {
    if (join.expiry) clearTimeout(join.expiry);
    untrack(join);
    const members = topics.get(join.topic);
    members?.delete(join);
    if (members?.size === 0) topics.delete(join.topic);
    if (join.connection.joins.get(join.topic) === join) join.connection.joins.delete(join.topic);
  };

  const closeJoin = (join: Join, message: string) => {
    push(join, "system", {
      extension: "system",
      status: "error",
      message,
      channel: join.topic.slice(CHANNEL_PREFIX.length),
    });
    push(join, "phx_close", {});
    leave(join);
  };

  const scheduleExpiry = (join: Join) => {
    if (join.expiry) clearTimeout(join.expiry);
    const exp = join.caller.claims.exp;
    if (typeof exp !== "number") return;
    const ms = Math.min(exp * 1000 - Date.now(), 2 ** 31 - 1);
    join.expiry = setTimeout(() => closeJoin(join, "Token has expired"), Math.max(ms, 0));
    join.expiry.unref?.();
  };

  const verify = async (token: unknown, fallback: Caller): Promise<Caller> =>
    typeof token === "string" && token ? tokens.verify(token) : fallback;

  const onJoin = async (connection: Connection, frame: Frame) => {
    const config = (frame.payload.config ?? {}) as Record<string, unknown>;
    const subTopic = frame.topic.slice(CHANNEL_PREFIX.length);
    let caller: Caller;
    try {
      caller = await verify(frame.payload.access_token, connection.apiKeyCaller);
    } catch (error) {
      return reply(connection, frame, "error", { reason: `Invalid token: ${(error as Error).message}` });
    }
    const isPrivate = config.private === true;
    let rights: ChannelRights = { read: true, broadcast: true, presence: true };
    if (isPrivate) {
      rights = await channelRights(db, caller.claims, subTopic);
      if (!rights.read) {
        return reply(connection, frame, "error", {
          reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`,
        });
      }
    }
    let bindings: Binding[];
    try {
      bindings = await parseBindings(config.postgres_changes);
    } catch (error) {
      if (!(error instanceof BindingError)) throw error;
      return reply(connection, frame, "error", {
        reason: `Unable to subscribe to changes with given parameters: ${error.message}`,
      });
    }
    const previous = connection.joins.get(frame.topic);
    if (previous) leave(previous);
    const broadcast = (config.broadcast ?? {}) as Record<string, unknown>;
    const presenceConfig = (config.presence ?? {}) as Record<string, unknown>;
    const join: Join = {
      id: randomUUID(),
      connection,
      topic: frame.topic,
      joinRef: frame.join_ref ?? frame.ref,
      caller,
      private: isPrivate,
      rights,
      self: broadcast.self === true,
      ack: broadcast.ack === true,
      presenceKey: typeof presenceConfig.key === "string" && presenceConfig.key ? presenceConfig.key : randomUUID(),
      bindings,
    };
    connection.joins.set(frame.topic, join);
    getOrCreate(topics, frame.topic, () => new Set<Join>()).add(join);
    scheduleExpiry(join);
    reply(connection, frame, "ok", {
      postgres_changes: bindings.map((binding) => ({ ...binding.raw, id: binding.id })),
    });
    push(join, "presence_state", presenceState(frame.topic));
    if (bindings.length > 0) {
      push(join, "system", {
        extension: "postgres_changes",
        status: "ok",
        message: "Subscribed to PostgreSQL",
        channel: subTopic,
      });
    }
  };

  const parseBindings = async (raw: unknown): Promise<Binding[]> => {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw new BindingError("postgres_changes must be a list");
    const bindings = raw.map((item) => parseBinding(item, nextBindingId++));
    for (const binding of bindings) {
      if (!binding.table) continue;
      const name = `${binding.schema}.${binding.table}`;
      if (!tables.has(name)) tables = await publishedTables(db);
      const info = tables.get(name);
      if (!info) throw new BindingError(`${name} is not in the supabase_realtime publication`);
      if (binding.filter && !info.columns.some((column) => column.name === binding.filter?.column)) {
        throw new BindingError(`${name} has no column ${binding.filter.column}`);
      }
    }
    return bindings;
  };

  // --- frames ---------------------------------------------------------------------------------
  const onFrame = async (connection: Connection, frame: Frame) => {
    if (frame.topic === "phoenix" && frame.event === "heartbeat") return reply(connection, frame, "ok");
    if (frame.event === "phx_join") return onJoin(connection, frame);
    const join = connection.joins.get(frame.topic);
    if (!join) return reply(connection, frame, "error", { reason: "unmatched topic" });
    switch (frame.event) {
      case "phx_leave":
        leave(join);
        return reply(connection, frame, "ok");
      case "broadcast": {
        if (!join.rights.broadcast)
          return join.ack ? reply(connection, frame, "error", { reason: "Unauthorized" }) : undefined;
        const event = String(frame.payload.event ?? "");
        for (const member of topics.get(join.topic) ?? []) {
          if (member !== join || join.self) deliverBroadcast(member, event, frame.payload.payload);
        }
        return join.ack ? reply(connection, frame, "ok") : undefined;
      }
      case "presence": {
        if (!join.rights.presence) return reply(connection, frame, "error", { reason: "Unauthorized" });
        if (frame.payload.event === "track") track(join, frame.payload.payload);
        else if (frame.payload.event === "untrack") untrack(join);
        return reply(connection, frame, "ok");
      }
      case "access_token": {
        try {
          join.caller = await verify(frame.payload.access_token, connection.apiKeyCaller);
        } catch (error) {
          return closeJoin(join, `Invalid token: ${(error as Error).message}`);
        }
        if (join.private) {
          join.rights = await channelRights(db, join.caller.claims, join.topic.slice(CHANNEL_PREFIX.length));
          if (!join.rights.read) return closeJoin(join, "Unauthorized: the new token may not read this channel");
        }
        return scheduleExpiry(join);
      }
      default:
        return reply(connection, frame, "error", { reason: `unknown event ${frame.event}` });
    }
  };

  sockets.on("connection", (socket: WebSocket, request: IncomingMessage, vsn: Vsn, apiKeyCaller: Caller) => {
    const connection: Connection = { socket, vsn, apiKeyCaller, joins: new Map() };
    // Frames of one connection are handled in order (a join completes before the next push).
    let queue: Promise<void> = Promise.resolve();
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      queue = queue.then(async () => {
        let frame: Frame;
        try {
          frame = decodeFrame(data, isBinary, vsn);
        } catch (error) {
          logger.warn("realtime: bad frame", { message: (error as Error).message });
          return;
        }
        try {
          await onFrame(connection, frame);
        } catch (error) {
          logger.error("realtime: frame failed", { event: frame.event, message: (error as Error).message });
          reply(connection, frame, "error", { reason: "internal error" });
        }
      });
    });
    socket.on("close", () => {
      for (const join of [...connection.joins.values()]) leave(join);
    });
    socket.on("error", () => {});
    void request;
  });

  // --- the feed -------------------------------------------------------------------------------
  const claimsKey = (claims: DbClaims) => JSON.stringify([claims.role, claims.sub ?? null, claims.app_role ?? null]);

  const deliverChanges = async (changes: FeedChange[]) => {
    const subscribers = [...topics.values()].flatMap((members) =>
      [...members].filter((join) => join.bindings.length > 0),
    );
    if (subscribers.length === 0) return;
    // Per subscriber: which bindings each change matches (server-side filtering).
    const wanted = new Map<Join, Map<number, number[]>>();
    for (const join of subscribers) {
      const perChange = new Map<number, number[]>();
      changes.forEach((change, index) => {
        const ids = join.bindings.filter((binding) => matches(binding, change)).map((binding) => binding.id);
        if (ids.length > 0) perChange.set(index, ids);
      });
      if (perChange.size > 0) wanted.set(join, perChange);
    }
    // Row level security: one query per table and distinct set of claims.
    const visible = new Map<string, Set<number>>();
    const groups = new Map<string, { claims: DbClaims; info: TableInfo; indexes: Set<number> }>();
    for (const [join, perChange] of wanted) {
      for (const index of perChange.keys()) {
        const change = changes[index] as FeedChange;
        const info = tables.get(`${change.schema}.${change.table}`);
        if (!info) continue;
        const key = `${info.schema}.${info.table}|${claimsKey(join.caller.claims)}`;
        getOrCreate(groups, key, () => ({ claims: join.caller.claims, info, indexes: new Set<number>() })).indexes.add(
          index,
        );
      }
    }
    for (const [key, group] of groups) {
      const indexes = [...group.indexes];
      // A failed check withholds those rows from those subscribers only (never sent unchecked).
      const seen = await visibleChanges(
        db,
        group.claims,
        group.info,
        indexes.map((index) => changes[index] as FeedChange),
      ).catch((error: unknown) => {
        logger.error("realtime: row level security check failed", { message: (error as Error).message });
        return new Set<number>();
      });
      visible.set(key, new Set([...seen].map((position) => indexes[position] as number)));
    }
    changes.forEach((change, index) => {
      const info = tables.get(`${change.schema}.${change.table}`);
      if (!info) return;
      for (const [join, perChange] of wanted) {
        const ids = perChange.get(index);
        if (!ids) continue;
        if (!visible.get(`${info.schema}.${info.table}|${claimsKey(join.caller.claims)}`)?.has(index)) continue;
        push(join, "postgres_changes", {
          ids,
          data: {
            schema: change.schema,
            table: change.table,
            commit_timestamp: change.commit_timestamp,
            type: change.type,
            errors: null,
            columns: info.columns,
            ...(change.type === "DELETE" ? {} : { record: change.record }),
            ...(change.type === "INSERT" ? {} : { old_record: change.old_record ?? {} }),
          },
        });
      }
    });
  };

  const deliverMessages = async (messages: FeedMessage[]) => {
    for (const message of messages) {
      for (const join of topics.get(CHANNEL_PREFIX + message.topic) ?? []) {
        if (join.private === message.private) deliverBroadcast(join, message.event, message.payload);
      }
    }
  };

  const feed = await startFeed(
    db,
    {
      changes: deliverChanges,
      messages: deliverMessages,
      error: (error) => logger.error("realtime: feed failed", { message: (error as Error).message }),
    },
    { intervalMs: options.pollIntervalMs },
  );

  return {
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname !== WEBSOCKET_PATH) return false;
      const vsn: Vsn = url.searchParams.get("vsn") === "2.0.0" ? "2.0.0" : "1.0.0";
      const apiKey = url.searchParams.get("apikey") ?? request.headers.apikey;
      tokens
        .verify(String(apiKey ?? ""))
        .then((caller) => {
          sockets.handleUpgrade(request, socket, head, (ws) => sockets.emit("connection", ws, request, vsn, caller));
        })
        .catch(() => {
          socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\n\r\ninvalid apikey\n");
        });
      return true;
    },
    async broadcast(caller, messages) {
      for (const message of messages.filter((item) => item.private)) {
        const rights = await channelRights(db, caller.claims, message.topic);
        if (!rights.broadcast) return { refused: message.topic };
      }
      for (const message of messages) {
        for (const join of topics.get(CHANNEL_PREFIX + message.topic) ?? []) {
          if (join.private === message.private) deliverBroadcast(join, message.event, message.payload);
        }
      }
      return {};
    },
    async close() {
      await feed.stop();
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
