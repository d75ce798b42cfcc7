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

const everywhereSyntax = [
  { selector: "TSEnumDeclaration", message: "Use an `as const` object instead of an enum." },
  { selector: "ExportDefaultDeclaration", message: "Named exports only." },
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
      "no-restricted-syntax": ["error", ...everywhereSyntax],
    },
  },
  {
    // The product never loads its test doubles: the sandboxes are an annex beside it, left out of the image.
    files: ["src/**/*.ts", "bin/**/*.js"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ regex: "(^|/)sandbox/", message: "The product does not import the sandboxes." }],
        },
      ],
      "no-restricted-syntax": [
        "error",
        ...everywhereSyntax,
        {
          selector: "ImportExpression[source.value=/(^|\\/)sandbox\\//]",
          message: "The product does not import the sandboxes.",
        },
      ],
    },
  },
  {
    // An emulator checks the product from outside: it may name the product's types, and use its JSON library
    // (src/json/: JSON values and RFC 6902, no canarybot logic), but runs none of the code it stands in front of.
    // The demos (slack-demo.ts, demo/) are the one place that runs the product against the emulators.
    files: ["sandbox/**/*.ts"],
    ignores: ["sandbox/slack-demo.ts", "sandbox/demo/**"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\./)+src/(?!json/)",
              allowTypeImports: true,
              message: "An emulator imports the product's types only (and src/json/).",
            },
          ],
        },
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
        {
          patterns: [
            { regex: "(^|/)sandbox/", message: "The product does not import the sandboxes." },
            { group: ioModules, message: "src/rollout/ is the pure core: no I/O imports." },
          ],
        },
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
