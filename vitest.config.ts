import { defineConfig } from "vitest/config";

// Every suite runs on embedded PGlite; with DATABASE_URL set, the same suites run on that
// PostgreSQL too (and the concurrency suites, which need many connections, run only there).
const shared = { include: ["tests/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "pglite",
          env: { STOREKEEP_TEST_ENGINE: "pglite" },
          globalSetup: ["tests/helpers/setup-pglite.ts"],
        },
      },
      ...(process.env.DATABASE_URL
        ? [
            {
              test: {
                ...shared,
                name: "postgres",
                env: { STOREKEEP_TEST_ENGINE: "postgres" },
                globalSetup: ["tests/helpers/setup-postgres.ts"],
              },
            },
          ]
        : []),
    ],
  },
});
