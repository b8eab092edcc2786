import type { Logger } from "../../platform/logger.ts";
import type { OutboxSignal } from "../../platform/outbox-signal.ts";
import type { RunningSender } from "../../platform/webhook-sender.ts";

/** What one round of work says about the next: go again at once, or sleep up to `sleepMs`. */
export type RoundResult = { again: true } | { again: false; sleepMs?: number };

/**
 * Runs `round` in `workers` loops: again at once while it has work, otherwise asleep until the
 * signal fires (an event was committed), `sleepMs` passes, or `idlePollMs` passes. A round that
 * throws is logged and retried with backoff. No wake is lost: a wake during a round makes the
 * next sleep return at once.
 */
export async function runContinuously(options: {
  signal: OutboxSignal;
  round: () => Promise<RoundResult>;
  idlePollMs: number;
  workers?: number;
  logger?: Logger;
  name: string;
}): Promise<RunningSender> {
  let stopped = false;
  const states = new Set<{ woken: boolean; waker?: () => void }>();
  const wake = () => {
    for (const state of states) {
      state.woken = true;
      state.waker?.();
    }
  };
  const unsubscribe = await options.signal.subscribe(wake);

  const worker = async () => {
    const state: { woken: boolean; waker?: () => void } = { woken: false };
    states.add(state);
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (state.woken || stopped) return resolve();
        const timer = setTimeout(() => state.waker?.(), ms);
        state.waker = () => {
          clearTimeout(timer);
          state.waker = undefined;
          resolve();
        };
      });
    let failures = 0;
    while (!stopped) {
      state.woken = false;
      try {
        const result = await options.round();
        failures = 0;
        if (result.again) continue;
        await sleep(Math.min(Math.max(result.sleepMs ?? options.idlePollMs, 0), options.idlePollMs));
      } catch (error) {
        failures++;
        options.logger?.error(`${options.name} round failed`, {
          message: error instanceof Error ? error.message : String(error),
        });
        await sleep(Math.min(100 * 2 ** failures, 10_000));
      }
    }
    states.delete(state);
  };

  const loops = Array.from({ length: options.workers ?? 1 }, worker);
  return {
    wake,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(loops);
      await unsubscribe();
    },
  };
}
