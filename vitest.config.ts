import { defineConfig } from "vitest/config";

// Integration tests carry the services they need in their file name (x.kube.redis.test.ts, …); the rest are unit
// tests, which need nothing but Node.
const INTEGRATION = ["redis", "kube", "prometheus", "browser"].map(
  (service) => `test/**/*.${service}.*test.ts`,
);

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores are all CI has, but the integration tests mostly wait (on Redis, the sandboxes, rollouts stepping
    // at their intervals): with today's 144 files, three at once took 372 s for the whole suite, four fewer.
    maxWorkers: 4,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: INTEGRATION } },
      {
        extends: true,
        // Readiness waits allow a minute on a loaded machine (test/support/engine.ts waitFor); a test gets two.
        test: { name: "integration", include: INTEGRATION, testTimeout: 120_000, hookTimeout: 120_000 },
      },
    ],
  },
});
