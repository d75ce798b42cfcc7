import { generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import forge from "node-forge";

export type TlsMaterial = {
  /** The CA certificate a kubeconfig trusts (certificate-authority-data). */
  readonly caCertPem: string;
  /** Server certificate for IP 127.0.0.1 and DNS localhost, signed by the CA. */
  readonly certPem: string;
  readonly keyPem: string;
};

let cached: TlsMaterial | undefined;

/** One CA and server certificate per process: every sandbox of a test run can share them. */
export function sandboxTlsMaterial(): TlsMaterial {
  cached ??= generateTlsMaterial();
  return cached;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function generateTlsMaterial(now = new Date()): TlsMaterial {
  // Node makes the keys and signs; forge, whose RSA is pure JS (seconds to generate, a tenth of a second to sign on a
  // busy machine), only lays out the certificates.
  const caKeys = rsaKeyPair();
  const serverKeys = rsaKeyPair();

  const caSubject = [{ name: "commonName", value: "canarybot-sandbox-ca" }];
  const ca = certificate(caKeys.publicKey, caSubject, caSubject, now, [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  signWith(ca, caKeys.privateKey);

  const server = certificate(
    serverKeys.publicKey,
    [{ name: "commonName", value: "canarybot-sandbox" }],
    caSubject,
    now,
    [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
      { name: "authorityKeyIdentifier", keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    ],
  );
  signWith(server, caKeys.privateKey);

  return {
    caCertPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(server),
    keyPem: serverKeys.pem,
  };
}

/** Node makes the key and its PEM (forge re-encodes integers non-minimally now and then). */
function rsaKeyPair(): { privateKey: KeyObject; publicKey: forge.pki.PublicKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString()),
    pem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
  };
}

// Not in forge's type declarations; what its own `certificate.sign` encodes and signs.
const forgePki = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/** What forge's `certificate.sign(key, sha256)` does, with Node's RSA. */
function signWith(cert: forge.pki.Certificate, key: KeyObject): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption ?? "";
  cert.tbsCertificate = forgePki.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), "binary");
  cert.signature = sign("sha256", tbs, key).toString("binary");
}

function certificate(
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  now: Date,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = positiveSerial(randomBytes(16));
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + 365 * DAY_MS);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  return cert;
}

/**
 * A serial DER encodes as a positive INTEGER in its minimal form: the first byte's high bit clear (else it reads
 * as negative) and not zero (a leading 0x00 before a byte under 0x80 is "illegal padding" to OpenSSL 3).
 */
export function positiveSerial(bytes: Buffer): string {
  const serial = Buffer.from(bytes);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial.toString("hex");
}
