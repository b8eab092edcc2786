// Phoenix channel frames as Supabase Realtime speaks them. vsn 1.0.0: JSON objects. vsn 2.0.0: JSON
// arrays [join_ref, ref, topic, event, payload], plus binary frames for user broadcasts (a client's
// push is kind 3, the server's delivery kind 4: a u8 header of lengths, the strings, the payload).

export type Vsn = "1.0.0" | "2.0.0";

export interface Frame {
  join_ref: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

const USER_BROADCAST_PUSH = 3;
const USER_BROADCAST = 4;
const BINARY_ENCODING = 0;
const JSON_ENCODING = 1;

export class ProtocolError extends Error {}

export function decodeFrame(data: Buffer, isBinary: boolean, vsn: Vsn): Frame {
  if (isBinary) {
    if (vsn !== "2.0.0") throw new ProtocolError("binary frames need vsn 2.0.0");
    return decodeUserBroadcastPush(data);
  }
  const parsed: unknown = JSON.parse(data.toString("utf8"));
  if (vsn === "2.0.0") {
    if (!Array.isArray(parsed) || parsed.length !== 5)
      throw new ProtocolError("a frame is [join_ref, ref, topic, event, payload]");
    const [join_ref, ref, topic, event, payload] = parsed;
    return checked({ join_ref, ref, topic, event, payload });
  }
  if (!parsed || typeof parsed !== "object") throw new ProtocolError("a frame is a JSON object");
  const { join_ref = null, ref = null, topic, event, payload } = parsed as Record<string, unknown>;
  return checked({ join_ref, ref, topic, event, payload });
}

function checked(frame: Record<string, unknown>): Frame {
  const { join_ref, ref, topic, event, payload } = frame;
  if (typeof topic !== "string" || typeof event !== "string") throw new ProtocolError("topic and event are strings");
  return {
    join_ref: join_ref == null ? null : String(join_ref),
    ref: ref == null ? null : String(ref),
    topic,
    event,
    payload: payload && typeof payload === "object" ? (payload as Record<string, unknown>) : {},
  };
}

function decodeUserBroadcastPush(data: Buffer): Frame {
  if (data.length < 7 || data[0] !== USER_BROADCAST_PUSH) throw new ProtocolError("unknown binary frame kind");
  const lengths = [data[1], data[2], data[3], data[4], data[5]] as number[];
  const encoding = data[6];
  let offset = 7;
  const [joinRef, ref, topic, event, meta] = lengths.map((length) => {
    const text = data.subarray(offset, offset + length).toString("utf8");
    offset += length;
    return text;
  }) as [string, string, string, string, string];
  const body = data.subarray(offset);
  const payload: unknown =
    encoding === JSON_ENCODING
      ? JSON.parse(body.toString("utf8"))
      : body.buffer.slice(body.byteOffset, body.byteOffset + body.length);
  return {
    join_ref: joinRef || null,
    ref: ref || null,
    topic,
    event: "broadcast",
    payload: { type: "broadcast", event, payload, ...(meta ? { meta: JSON.parse(meta) } : {}) },
  };
}

export function encodeFrame(frame: Frame, vsn: Vsn): string {
  if (vsn === "2.0.0") return JSON.stringify([frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload]);
  return JSON.stringify(frame);
}

/** A user broadcast for a vsn 2.0.0 client: kind 4, JSON or binary payload. */
export function encodeUserBroadcast(topic: string, event: string, payload: unknown): Buffer {
  const binary = payload instanceof ArrayBuffer;
  const body = binary ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload ?? {}), "utf8");
  const topicBytes = Buffer.from(topic, "utf8");
  const eventBytes = Buffer.from(event, "utf8");
  if (topicBytes.length > 255 || eventBytes.length > 255)
    throw new ProtocolError("topic or event longer than 255 bytes");
  const header = Buffer.from([
    USER_BROADCAST,
    topicBytes.length,
    eventBytes.length,
    0,
    binary ? BINARY_ENCODING : JSON_ENCODING,
  ]);
  return Buffer.concat([header, topicBytes, eventBytes, body]);
}
