import { describe, expect, it } from "vitest";
import { istioCrds } from "../../../sandbox/kube/crds.ts";
import { readManifests } from "../../../sandbox/kube/fixtures.ts";
import { fixtureFiles, istioFixturePath } from "../../support/fixtures.ts";
import { checkAgainstSchema } from "../../../sandbox/kube/schema-validation.ts";

type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string } };

const crd = (kind: string) => {
  const found = istioCrds().find((candidate) => candidate.kind === kind);
  if (found === undefined) throw new Error(`no CRD for ${kind}`);
  return found;
};
const schemaOf = (kind: string, version = "v1") => {
  const found = crd(kind).versions.find((candidate) => candidate.name === version);
  if (found === undefined) throw new Error(`${kind} has no version ${version}`);
  return found.schema;
};

const sampleFiles = fixtureFiles("istio/samples").filter((file) => file.endsWith(".yaml"));
const samples = sampleFiles.flatMap((file) =>
  (readManifests(istioFixturePath(`samples/${file}`)) as Manifest[])
    .filter((manifest) => manifest.kind === "VirtualService" || manifest.kind === "DestinationRule")
    .map((manifest) => ({ file, manifest })),
);

describe("CRD schema validation", () => {
  it("reads both CRDs with their three served versions", () => {
    expect(istioCrds().map((c) => [c.kind, c.plural, c.versions.map((v) => v.name)])).toEqual([
      ["VirtualService", "virtualservices", ["v1", "v1alpha3", "v1beta1"]],
      ["DestinationRule", "destinationrules", ["v1", "v1alpha3", "v1beta1"]],
    ]);
  });

  it("accepts every VirtualService and DestinationRule of the upstream samples at every version, unchanged", () => {
    expect(samples.length).toBeGreaterThanOrEqual(40);
    for (const { file, manifest } of samples) {
      for (const { name: version, schema } of crd(manifest.kind).versions) {
        const check = checkAgainstSchema(schema, manifest);
        expect({ file, name: manifest.metadata.name, version, errors: check.errors }).toEqual({
          file,
          name: manifest.metadata.name,
          version,
          errors: [],
        });
        expect(check.unknownFields).toEqual([]);
        expect(check.object).toEqual(manifest);
      }
    }
  });

  it("accepts the upstream CRD-validation 'valid' DestinationRules", () => {
    const valid = readManifests(
      istioFixturePath("config-analysis/crd-validation.destinationrule-valid.yaml"),
    ) as Manifest[];
    expect(valid.map((manifest) => checkAgainstSchema(schemaOf("DestinationRule"), manifest).errors)).toEqual(
      [[], [], []],
    );
  });

  it("rejects each upstream 'invalid' DestinationRule with the field and error the API server names", () => {
    // All three violations are plain OpenAPI (maximum, required, minimum), not CEL, so all three are caught.
    const invalid = readManifests(
      istioFixturePath("config-analysis/crd-validation.destinationrule-invalid.yaml"),
    ) as (Manifest & {
      _err: string;
    })[];
    expect(invalid).toHaveLength(3);
    for (const { _err: expected, ...manifest } of invalid) {
      const rendered = checkAgainstSchema(schemaOf("DestinationRule"), manifest).errors.map(
        (e) => `${e.field}: ${e.detail}`,
      );
      expect(rendered).toHaveLength(1);
      expect(rendered[0]).toContain(expected);
    }
  });

  it("rejects a weight given as a string", () => {
    const vs = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "reviews" },
      spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" }, weight: "10" }] }] },
    };

    expect(checkAgainstSchema(schemaOf("VirtualService"), vs).errors).toEqual([
      {
        reason: "FieldValueTypeInvalid",
        field: "spec.http[0].route[0].weight",
        detail:
          'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
      },
    ]);
  });

  it("reports a oneOf violation once, not once per alternative", () => {
    const vs = {
      metadata: { name: "reviews" },
      spec: {
        hosts: ["reviews"],
        http: [
          { match: [{ uri: { exact: "/a", prefix: "/b" } }], route: [{ destination: { host: "reviews" } }] },
        ],
      },
    };

    expect(checkAgainstSchema(schemaOf("VirtualService", "v1beta1"), vs).errors).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec.http[0].match[0].uri",
        detail:
          'Invalid value: "object": spec.http[0].match[0].uri in body must validate one and only one schema (oneOf)',
      },
    ]);
  });

  it("prunes unknown fields and nulls of non-nullable fields, keeping nullable nulls and preserved status", () => {
    const dr = {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "reviews", annotations: { a: "b" } },
      extra: true,
      spec: {
        host: "reviews",
        exportTo: null,
        trafficPolicy: { loadBalancer: { warmup: { duration: "10s", aggression: null } } },
        subsets: [{ name: "v1", labels: { version: "v1" }, colour: "blue" }],
      },
      status: { anything: { goes: 1 } },
    };

    const check = checkAgainstSchema(schemaOf("DestinationRule"), dr);

    expect(check.errors).toEqual([]);
    expect(check.unknownFields).toEqual(["extra", "spec.subsets[0].colour"]);
    expect(check.object).toEqual({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "reviews", annotations: { a: "b" } },
      spec: {
        host: "reviews",
        trafficPolicy: { loadBalancer: { warmup: { duration: "10s", aggression: null } } },
        subsets: [{ name: "v1", labels: { version: "v1" } }],
      },
      status: { anything: { goes: 1 } },
    });
  });

  it("does not evaluate CEL rules (x-kubernetes-validations): a malformed duration passes here, unlike on a cluster", () => {
    const dr = {
      metadata: { name: "reviews" },
      spec: { host: "reviews", trafficPolicy: { loadBalancer: { warmup: { duration: "soon" } } } },
    };

    expect(checkAgainstSchema(schemaOf("DestinationRule"), dr).errors).toEqual([]);
  });
});
