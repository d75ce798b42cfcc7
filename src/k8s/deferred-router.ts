import type { PodHealthProbe, TargetInspection, TrafficRouter } from "../rollout/ports.ts";
import type { PodHealth } from "../rollout/types.ts";

/** A router that talks to Kubernetes, once built. */
export type KubernetesRouter = TrafficRouter & PodHealthProbe & { close(): Promise<void> };

/**
 * A router built on its first call, with the Kubernetes client behind it: a process loads the client's ~900
 * modules (about half a second of a start) once it has something to ask Kubernetes, and `serve` listens for
 * Slack before then. `load` runs once; one that failed is tried again at the next call. `warmUp` starts it early.
 */
export class DeferredRouter implements TrafficRouter, PodHealthProbe {
  readonly #build: () => Promise<KubernetesRouter>;
  #loading: Promise<KubernetesRouter> | undefined;
  #loaded: KubernetesRouter | undefined;

  constructor(build: () => Promise<KubernetesRouter>) {
    this.#build = build;
  }

  /** Build the router now rather than at the first call; a failure is also the next call's to report. */
  async warmUp(): Promise<void> {
    await this.#router();
  }

  #router(): Promise<KubernetesRouter> {
    this.#loading ??= this.#build().then(
      (router) => (this.#loaded = router),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  async inspect(...args: Parameters<TrafficRouter["inspect"]>): Promise<TargetInspection> {
    return (await this.#router()).inspect(...args);
  }

  async setWeights(...args: Parameters<TrafficRouter["setWeights"]>): Promise<void> {
    return (await this.#router()).setWeights(...args);
  }

  async restore(...args: Parameters<TrafficRouter["restore"]>): Promise<void> {
    return (await this.#router()).restore(...args);
  }

  /** Not built yet: nothing to read ahead with, and the write reads for itself. */
  prefetch(...args: Parameters<TrafficRouter["prefetch"]>): void {
    this.#loaded?.prefetch(...args);
  }

  async currentSubset(...args: Parameters<TrafficRouter["currentSubset"]>): Promise<string> {
    return (await this.#router()).currentSubset(...args);
  }

  async describeChange(...args: Parameters<TrafficRouter["describeChange"]>): Promise<string> {
    return (await this.#router()).describeChange(...args);
  }

  async observe(...args: Parameters<PodHealthProbe["observe"]>): Promise<PodHealth> {
    return (await this.#router()).observe(...args);
  }

  /** Close the router if it was built (waiting for a build under way). */
  async close(): Promise<void> {
    const router = await this.#loading?.catch(() => undefined);
    await router?.close();
  }
}
