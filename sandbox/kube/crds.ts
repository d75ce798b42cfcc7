import { readFileSync } from "node:fs";
import { gatewayApiFixturePath, istioFixturePath } from "./fixtures.ts";

export type JsonSchema = { [keyword: string]: unknown };

/** A CRD's `additionalPrinterColumns` entry: what `kubectl get` shows, from the server's Table. */
export type PrinterColumn = {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
  readonly format?: string;
};

export type CrdVersion = {
  readonly name: string;
  readonly schema: JsonSchema;
  readonly printerColumns: readonly PrinterColumn[];
};

export type Crd = {
  readonly group: string;
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly namespaced: boolean;
  readonly versions: readonly CrdVersion[];
};

// Istio's CRD YAML re-serialized as JSON (fixtures/README.md): parsing the YAML took most of a sandbox's start.
const CRD_FILES = ["virtualservice.crd.json", "destinationrule.crd.json"] as const;

let loaded: readonly Crd[] | undefined;
let gatewayApi: Crd | undefined;

/** The Istio CRDs we serve, read once per process: they are large. */
export function istioCrds(): readonly Crd[] {
  loaded ??= CRD_FILES.map((file) => toCrd(JSON.parse(readFileSync(istioFixturePath(file), "utf8")), file));
  return loaded;
}

/** Gateway API's HTTPRoute CRD (standard channel), served at the versions it defines; read once per process. */
export function httpRouteCrd(): Crd {
  const file = "httproute.crd.json";
  gatewayApi ??= toCrd(JSON.parse(readFileSync(gatewayApiFixturePath(file), "utf8")), file);
  return gatewayApi;
}

type CrdDocument = {
  spec: {
    group: string;
    scope: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: {
      name: string;
      served: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
};

function toCrd(document: unknown, file: string): Crd {
  const spec = (document as CrdDocument | undefined)?.spec;
  if (spec?.names === undefined || !Array.isArray(spec.versions)) {
    throw new Error(`${file} is not a CustomResourceDefinition`);
  }
  return {
    group: spec.group,
    kind: spec.names.kind,
    listKind: spec.names.listKind,
    plural: spec.names.plural,
    singular: spec.names.singular,
    shortNames: spec.names.shortNames ?? [],
    categories: spec.names.categories ?? [],
    namespaced: spec.scope === "Namespaced",
    versions: spec.versions
      .filter((version) => version.served)
      .map((version) => ({
        name: version.name,
        schema: version.schema.openAPIV3Schema,
        printerColumns: version.additionalPrinterColumns ?? [],
      })),
  };
}
