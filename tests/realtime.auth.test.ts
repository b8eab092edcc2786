import { createClient } from "@supabase/supabase-js";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LOCAL_PASSWORD } from "../packages/local/src/auth.ts";
import { collector, subscribe, useLocalStack } from "./helpers/realtime.ts";

// The local /auth/v1 with the real supabase-js client, as the PMS frontend signs in.
const ctx = useLocalStack();

const pms = () =>
  createClient(ctx.stack.supabaseUrl, ctx.stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
  });

describe("local Auth (real supabase-js)", () => {
  it("signInWithPassword, then functions.invoke, then a subscription, as the PMS does it", async () => {
    const supabase = pms();
    const { data, error } = await supabase.auth.signInWithPassword({
      email: "staff@storekeep.local",
      password: LOCAL_PASSWORD,
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe("staff@storekeep.local");
    const claims = JSON.parse(Buffer.from(data.session?.access_token.split(".")[1] ?? "", "base64url").toString());
    // The custom access token hook put the role in.
    expect(claims).toMatchObject({
      role: "authenticated",
      aud: "authenticated",
      app_role: "staff",
      sub: data.user?.id,
    });

    const me = await supabase.functions.invoke("api/v1/me", { method: "GET" });
    expect(me.error).toBeNull();
    expect(me.data).toMatchObject({ app_role: "staff" });

    const received = collector<any>();
    const channel = supabase
      .channel("inventory:main", { config: { private: true } })
      .on("broadcast", { event: "stock.changed" }, (message) => received.push(message));
    expect((await subscribe(channel)).status).toBe("SUBSCRIBED");
    const adjusted = await supabase.functions.invoke("api/v1/inventory/adjust", {
      body: { sku: "TS-ORG-S", location_code: "main", delta: 2, kind: "receipt" },
    });
    expect(adjusted.error).toBeNull();
    const [message] = await received.until(1);
    expect(message.payload.data).toMatchObject({ sku: "TS-ORG-S", location_code: "main" });
    await supabase.removeAllChannels();
  });

  it("refreshes the session, reads the user, and logs out (the refresh token then fails)", async () => {
    const supabase = pms();
    const signedIn = await supabase.auth.signInWithPassword({
      email: "viewer@storekeep.local",
      password: LOCAL_PASSWORD,
    });
    const refreshToken = signedIn.data.session?.refresh_token as string;
    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session?.refresh_token).not.toBe(refreshToken);
    const user = await supabase.auth.getUser();
    expect(user.data.user?.email).toBe("viewer@storekeep.local");
    // A refresh token is used once.
    const reuse = await fetch(`${ctx.stack.supabaseUrl}/auth/v1/token?grant_type=refresh_token`, {
      method: "POST",
      headers: { apikey: ctx.stack.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(reuse.status).toBe(400);
    const latest = refreshed.data.session?.refresh_token as string;
    expect((await supabase.auth.signOut()).error).toBeNull();
    const afterLogout = await fetch(`${ctx.stack.supabaseUrl}/auth/v1/token?grant_type=refresh_token`, {
      method: "POST",
      headers: { apikey: ctx.stack.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: latest }),
    });
    expect(afterLogout.status).toBe(400);
  });

  it("refuses a wrong password and an unknown user", async () => {
    const supabase = pms();
    const wrong = await supabase.auth.signInWithPassword({ email: "staff@storekeep.local", password: "nope" });
    expect(wrong.error?.message).toBe("Invalid login credentials");
    const unknown = await supabase.auth.signInWithPassword({
      email: "nobody@storekeep.local",
      password: LOCAL_PASSWORD,
    });
    expect(unknown.error?.status).toBe(400);
    const noToken = await fetch(`${ctx.stack.supabaseUrl}/auth/v1/user`, { headers: { apikey: ctx.stack.anonKey } });
    expect(noToken.status).toBe(401);
  });
});
