import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import { describe, expect, it } from "vitest";
import { generateTlsMaterial, positiveSerial } from "../../../sandbox/kube/certificates.ts";

describe("sandbox TLS material", () => {
  it.each([0x00, 0x01, 0x7f, 0x80, 0xff])(
    "makes a minimal positive serial from a first byte 0x%s",
    (first) => {
      const bytes = Buffer.alloc(16, 0xab);
      bytes[0] = first;
      const serial = positiveSerial(bytes);
      const lead = Number.parseInt(serial.slice(0, 2), 16);
      expect(lead).toBeGreaterThanOrEqual(0x40);
      expect(lead).toBeLessThan(0x80);
      expect(serial).toHaveLength(32);
    },
  );

  it("is accepted by OpenSSL every time: certificates parse, the key matches, the server cert chains to the CA", () => {
    // A full test run once failed to start the sandbox with OpenSSL's "illegal padding"; the key PEM now comes
    // from Node and the serial is minimal by construction. Many generations must all be accepted.
    for (let round = 0; round < 12; round += 1) {
      const tls = generateTlsMaterial();
      const ca = new X509Certificate(tls.caCertPem);
      const server = new X509Certificate(tls.certPem);
      expect(server.verify(ca.publicKey)).toBe(true);
      expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
      expect(() => createSecureContext({ key: tls.keyPem, cert: tls.certPem })).not.toThrow();
    }
  });
});
