import type { RouteExpectation } from "../rollout/ports.ts";
import type { Target } from "../rollout/types.ts";
import {
  computeRulePatch,
  computeRuleRestorePatch,
  locateManagedRule,
  type DesiredRoute,
  type RouteChange,
} from "./route-patch.ts";
import { VIRTUAL_SERVICE_DIALECT, type ManagedRoute } from "./virtual-service-route.ts";

/** `locateManagedRule` on a VirtualService's `spec.http`. */
export function locateManagedRoute(virtualService: unknown, target: Target, baseline: unknown): ManagedRoute {
  const found = locateManagedRule(VIRTUAL_SERVICE_DIALECT, virtualService, target, baseline);
  return { index: found.index, route: found.route };
}

/** `computeRulePatch` on a VirtualService: the guarded JSON patch that moves its managed route to `desired`. */
export function computeRoutePatch(
  virtualService: unknown,
  target: Target,
  expected: RouteExpectation,
  desired: DesiredRoute,
): RouteChange {
  return computeRulePatch(VIRTUAL_SERVICE_DIALECT, virtualService, target, expected, desired);
}

/** `computeRuleRestorePatch` on a VirtualService: its managed route back to `baseline`, the header route gone. */
export function computeRestorePatch(virtualService: unknown, target: Target, baseline: unknown): RouteChange {
  return computeRuleRestorePatch(VIRTUAL_SERVICE_DIALECT, virtualService, target, baseline);
}
