import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ioModules = [
  "bullmq",
  "ioredis",
  "axios",
  "@slack/*",
  "@kubernetes/*",
  "node:*",
  "fs",
  "net",
  "http",
  "https",
  "child_process",
];

export default tseslint.config(
  { ignores: ["node_modules/**", "coverage/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "Use an `as const` object instead of an enum." },
        { selector: "ExportDefaultDeclaration", message: "Named exports only." },
      ],
    },
  },
  {
    // The functional core decides; it never talks to the world, reads the clock or draws randomness.
    files: ["src/rollout/**/*.ts"],
    ignores: ["src/rollout/service.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ioModules, message: "src/rollout/ is the pure core: no I/O imports." }] },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Time comes in as an argument." },
        { object: "Math", property: "random", message: "Ids and randomness come in as arguments." },
      ],
      "no-restricted-globals": ["error", { name: "process", message: "The core reads no environment." }],
    },
  },
  {
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Tool configuration files are loaded by their tools as default exports.
    files: ["eslint.config.js", "vitest.config.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
);
