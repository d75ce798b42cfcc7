import { stringify } from "yaml";

export type KubeconfigParts = {
  readonly server: string;
  readonly caCertPem: string;
  readonly token: string;
  readonly namespace?: string;
};

const NAME = "canarybot-sandbox";

/** An ordinary kubeconfig: the server's CA is trusted explicitly, so TLS is verified (no insecure-skip-tls-verify). */
export function buildKubeconfig(parts: KubeconfigParts): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: NAME,
        cluster: {
          server: parts.server,
          "certificate-authority-data": Buffer.from(parts.caCertPem).toString("base64"),
        },
      },
    ],
    users: [{ name: NAME, user: { token: parts.token } }],
    contexts: [
      { name: NAME, context: { cluster: NAME, user: NAME, namespace: parts.namespace ?? "default" } },
    ],
    "current-context": NAME,
    preferences: {},
  });
}
