import { qualifiedKind, qualifiedResource, type ApiResource } from "./resources.ts";

export type StatusCause = { reason?: string; message: string; field?: string };

export type StatusDetails = {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
};

/** The `metav1.Status` body the API server answers errors (and custom-resource deletes) with. */
export type KubeStatus = {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
};

/** Carries a Status through the request handling; the server writes it as the response. */
export class KubeStatusError extends Error {
  override readonly name = "KubeStatusError";
  readonly status: KubeStatus;

  constructor(status: KubeStatus) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.status = status;
  }
}

/** A field-level validation error, worded like k8s.io/apimachinery's field.Error. */
export type FieldError = { reason: string; field: string; detail: string };

const OPTIMISTIC_LOCK_MESSAGE =
  "the object has been modified; please apply your changes to the latest version and try again";

function failure(code: number, reason: string, message: string, details?: StatusDetails): KubeStatus {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

// Go marshals StatusDetails with omitempty: the core group and empty names are left out.
function resourceDetails(resource: ApiResource, name: string, kind = resource.plural): StatusDetails {
  return {
    ...(name === "" ? {} : { name }),
    ...(resource.group === "" ? {} : { group: resource.group }),
    kind,
  };
}

export function deleted(resource: ApiResource, name: string, uid: string): KubeStatus {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { ...resourceDetails(resource, name), uid },
    code: 200,
  };
}

export function notFound(resource: ApiResource, name: string): KubeStatus {
  return failure(
    404,
    "NotFound",
    `${qualifiedResource(resource)} "${name}" not found`,
    resourceDetails(resource, name),
  );
}

/** What the server says for a path it does not serve (unknown group, version, resource or subresource). */
export function pathNotFound(): KubeStatus {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(resource: ApiResource, name: string): KubeStatus {
  return failure(
    409,
    "AlreadyExists",
    `${qualifiedResource(resource)} "${name}" already exists`,
    resourceDetails(resource, name),
  );
}

export function conflict(resource: ApiResource, name: string, why = OPTIMISTIC_LOCK_MESSAGE): KubeStatus {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(resource)} "${name}": ${why}`,
    resourceDetails(resource, name),
  );
}

export function invalid(resource: ApiResource, name: string, errors: readonly FieldError[]): KubeStatus {
  const rendered = errors.map((error) => `${error.field}: ${error.detail}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`;
  return failure(422, "Invalid", `${qualifiedKind(resource)} "${name}" is invalid: ${summary}`, {
    ...resourceDetails(resource, name, resource.kind),
    causes: errors.map((error) => ({ reason: error.reason, message: error.detail, field: error.field })),
  });
}

/** A JSON patch that cannot be applied (e.g. a failed `test`): the server's generic 422 with the patch library's error. */
export function patchNotApplied(message: string): KubeStatus {
  return failure(422, "Invalid", "the server rejected our request due to an error in our request", {
    causes: [{ reason: "UnexpectedServerResponse", message }],
  });
}

export function badRequest(message: string): KubeStatus {
  return failure(400, "BadRequest", message);
}

export function unauthorized(): KubeStatus {
  return failure(401, "Unauthorized", "Unauthorized");
}

export function methodNotAllowed(): KubeStatus {
  return failure(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function unsupportedMediaType(accepted: readonly string[]): KubeStatus {
  return failure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

export function internalError(message: string): KubeStatus {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function serviceUnavailable(): KubeStatus {
  return failure(503, "ServiceUnavailable", "the server is currently unable to handle the request", {});
}
