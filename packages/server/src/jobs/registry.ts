import type { Db } from "../platform/db/types.ts";

/** A scheduled job: production runs it from pg_cron or the `jobs` function, locally from a timer. */
export interface Job {
  name: string;
  intervalMs: number;
  run(db: Db): Promise<Record<string, unknown>>;
}

export const jobs: Job[] = [
  {
    name: "outbox.prune",
    intervalMs: 60 * 60_000,
    async run(db) {
      const { rows } = await db.query<{ deleted: number }>("select private.prune_events() as deleted");
      return { deleted: rows[0]?.deleted ?? 0 };
    },
  },
];

export function findJob(name: string): Job | undefined {
  return jobs.find((job) => job.name === name);
}
