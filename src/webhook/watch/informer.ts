/**
 * A client-node informer that does not die.
 *
 * @kubernetes/client-node 1.4's ListWatch (what makeInformer returns) lists, then watches from the
 * list's resourceVersion, and reconnects by itself only when a watch ends cleanly or with 410 Gone.
 * After any other error — a failed list, a non-200 watch, a connection cut mid-stream — it calls
 * its `error` callbacks and stops for good (docs/feature-gate.md). This wrapper restarts
 * the same ListWatch (its cache and resourceVersion survive, so a restart resumes the watch
 * instead of re-listing) with capped, jittered exponential backoff, and exposes:
 *   synced()   the first list has been applied to the cache (sticky; readiness);
 *   watching() listed and a watch is open right now (watch_synced{resource});
 *   restarts() restarts after errors (watch_restarts_total{resource}).
 *
 * It builds the ListWatch exactly as makeInformer does, with one difference: its Watch is a thin
 * subclass that reports when a watch opens, each event, and how it ends. That is how we learn
 * when the list has been applied (the library calls watch() right after) and can stop a
 * server that closes watches instantly from making the library spin.
 */
import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { METRIC_PREFIX } from '../../shared/metrics.js';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** ± fraction of the delay drawn at random, so replicas do not retry in lockstep. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** Delay before restart number `attempt` (0-based): initial·factor^attempt, capped, then jittered (never above the cap). */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, Math.max(0, attempt)));
  const jittered = base * (1 - b.jitter + 2 * b.jitter * random());
  return Math.max(0, Math.round(Math.min(b.maxMs, jittered)));
}

export interface WatchMetrics {
  restarts: Counter<'resource'>;
  synced: Gauge<'resource'>;
}

const RESTARTS = `${METRIC_PREFIX}watch_restarts_total`;
const SYNCED = `${METRIC_PREFIX}watch_synced`;

/** The watch_* series, shared by every informer on a registry (one series per resource label). */
export function watchMetrics(registry: Registry): WatchMetrics {
  const restarts = (registry.getSingleMetric(RESTARTS) as Counter<'resource'> | undefined) ?? new Counter({
    name: RESTARTS,
    help: 'Restarts of a Kubernetes list+watch after an error (the client library does not restart it), by resource.',
    labelNames: ['resource'] as const,
    registers: [registry],
  });
  const synced = (registry.getSingleMetric(SYNCED) as Gauge<'resource'> | undefined) ?? new Gauge({
    name: SYNCED,
    help: '1 while the list+watch of a resource is listed and its watch open; 0 before the first list and while restarting.',
    labelNames: ['resource'] as const,
    registers: [registry],
  });
  return { restarts, synced };
}

export interface AddInfo {
  /** The object was in the first successful list (it existed before we started watching). */
  initialList: boolean;
}

export interface InformerHandlers<T> {
  add?(obj: T, info: AddInfo): void;
  update?(obj: T): void;
  delete?(obj: T): void;
  /** Once, when the first list has been applied to the cache. */
  synced?: () => void;
  /** After each failure; a restart follows in `restartInMs`. */
  error?(err: unknown, restartInMs: number): void;
}

export interface RestartingInformerOptions<T extends KubernetesObject> {
  /** Metric label and log field: "kubevirts", "pods". */
  resource: string;
  kubeConfig: KubeConfig;
  /** Collection path, e.g. /apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts. */
  path: string;
  /** Lists the same collection (with the same label selector) as the watch. */
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  backoff?: Partial<BackoffOptions>;
  /** A watch that ends cleanly sooner than this without any event is treated as a failure (default 1000 ms). */
  minWatchMs?: number;
  /** A watch that lived this long, or delivered an event, resets the backoff (default 60 s). */
  stableMs?: number;
  /**
   * Applied to every listed item and every watched object before the cache sees it: keep only
   * what the handlers read, so a cluster-wide cache of pods holds metadata, not whole specs.
   * Must keep metadata.name, namespace and resourceVersion (the cache and resumption use them).
   */
  transform?: (obj: T) => T;
  handlers: InformerHandlers<T>;
  logger: Logger;
  registry?: Registry;
  random?: () => number;
}

export interface RestartingInformer<T> {
  /** Resolves after the first attempt (synced, or failed with a restart scheduled); never rejects. */
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
  watching(): boolean;
  restarts(): number;
  /** The cache: every object currently known. */
  list(): readonly T[];
}

interface WatchTap {
  opened(): void;
  event(type: string): void;
  /** May replace a clean end with an error, so the library reports it instead of reconnecting at once. */
  closed(err: unknown): unknown;
}

/** client-node's Watch, reporting open / event / close to the wrapper (and transforming objects). */
class TappedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly tap: WatchTap,
    private readonly transform: ((obj: unknown) => unknown) | undefined,
  ) {
    super(config);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    this.tap.opened();
    return super.watch(
      path,
      queryParams,
      (phase, apiObj, watchObj) => {
        this.tap.event(phase);
        const isObjectEvent = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
        callback(phase, isObjectEvent && this.transform ? this.transform(apiObj) : apiObj, watchObj);
      },
      (err) => done(this.tap.closed(err)),
    );
  }
}

const message = (err: unknown): string => {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object' && 'message' in err) return String((err).message);
  return String(err);
};

export function createRestartingInformer<T extends KubernetesObject>(opts: RestartingInformerOptions<T>): RestartingInformer<T> {
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const minWatchMs = opts.minWatchMs ?? 1000;
  const stableMs = opts.stableMs ?? 60_000;
  const log = opts.logger.child({ resource: opts.resource });
  const metrics = opts.registry ? watchMetrics(opts.registry) : undefined;
  const label = { resource: opts.resource };
  metrics?.restarts.inc(label, 0);
  metrics?.synced.set(label, 0);

  let stopped = true;
  let listedOnce = false;
  let isSynced = false;
  let isWatching = false;
  let restartCount = 0;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let openedAt = 0;
  let eventsSinceOpen = 0;
  /** Objects of the first successful list, by identity: the cache hands these very objects to `add`. */
  const initialItems = new WeakSet<object>();

  const setWatching = (on: boolean): void => {
    isWatching = on;
    metrics?.synced.set(label, on ? 1 : 0);
  };

  const safely = (what: string, fn: () => void): void => {
    // The library calls handlers inside its stream parser, which swallows exceptions silently.
    try {
      fn();
    } catch (err) {
      log.error({ err: message(err) }, `informer ${what} handler failed`);
    }
  };

  const tap: WatchTap = {
    opened() {
      // The library opens a watch only after applying a list (or to resume one): the cache is current.
      openedAt = Date.now();
      eventsSinceOpen = 0;
      if (!listedOnce || stopped) return;
      setWatching(true);
      if (!isSynced) {
        isSynced = true;
        log.info('initial list applied; watching');
        if (opts.handlers.synced) safely('synced', opts.handlers.synced);
      }
    },
    event() {
      eventsSinceOpen += 1;
    },
    closed(err) {
      if (err || stopped) return err;
      const lived = Date.now() - openedAt;
      if (eventsSinceOpen === 0 && lived < minWatchMs) return new Error(`watch ended after ${lived} ms without any event`);
      return err;
    },
  };

  const informer = new ListWatch<T>(
    opts.path,
    new TappedWatch(opts.kubeConfig, tap, opts.transform as ((obj: unknown) => unknown) | undefined),
    async () => {
      const list = await opts.list();
      if (opts.transform) list.items = (list.items ?? []).map(opts.transform);
      if (!listedOnce) for (const item of list.items ?? []) initialItems.add(item);
      listedOnce = true;
      return list;
    },
    false,
    opts.labelSelector,
  );

  informer.on('add', (obj: T) => {
    if (opts.handlers.add) safely('add', () => opts.handlers.add?.(obj, { initialList: initialItems.has(obj) }));
  });
  informer.on('update', (obj: T) => {
    if (opts.handlers.update) safely('update', () => opts.handlers.update?.(obj));
  });
  informer.on('delete', (obj: T) => {
    if (opts.handlers.delete) safely('delete', () => opts.handlers.delete?.(obj));
  });
  informer.on('error', (err?: unknown) => scheduleRestart(err));

  function scheduleRestart(err: unknown): void {
    if (stopped || timer !== undefined) return;
    setWatching(false);
    // A watch that worked for a while (or delivered events) was a success: start the backoff over.
    if (openedAt > 0 && (eventsSinceOpen > 0 || Date.now() - openedAt >= stableMs)) attempt = 0;
    const delay = backoffDelay(attempt, backoff, opts.random);
    attempt += 1;
    restartCount += 1;
    metrics?.restarts.inc(label);
    log.warn({ err: message(err), attempt, restartInMs: delay }, 'list+watch failed; restarting');
    if (opts.handlers.error) safely('error', () => opts.handlers.error?.(err, delay));
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, delay);
  }

  async function run(): Promise<void> {
    if (stopped) return;
    openedAt = 0;
    try {
      await informer.start();
    } catch (err) {
      // e.g. no current cluster in the kubeconfig: thrown, not reported through `error`.
      scheduleRestart(err);
    }
  }

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      await run();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      setWatching(false);
      await informer.stop();
    },
    synced: () => isSynced,
    watching: () => isWatching,
    restarts: () => restartCount,
    list: () => informer.list(),
  };
}

/** --kubeconfig <path> when given; else $KUBECONFIG, ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
