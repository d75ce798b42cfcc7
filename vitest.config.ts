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
    // Integration tests start servers and worker processes; two cores are all CI has.
    maxWorkers: 2,
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
