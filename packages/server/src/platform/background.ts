// Supabase's edge runtime ends an invocation when its response is sent unless a promise is handed to
// `EdgeRuntime.waitUntil`; Node keeps running work alive by itself and has no such global.
declare global {
  var EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;
}

/** Keeps work that outlives its response running on the edge runtime. */
export function inBackground(work: Promise<unknown>): void {
  globalThis.EdgeRuntime?.waitUntil(work);
}
