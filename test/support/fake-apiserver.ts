/**
 * A TEST DOUBLE of kube-apiserver's list+watch protocol — there is no kube-apiserver on these
 * machines. Loopback, plain HTTP (client-node accepts http: with skipTLSVerify), one process.
 *
 * It speaks just enough of the protocol the client-node informer uses:
 *   GET <collection>                       → {kind: <Kind>List, apiVersion, metadata:{resourceVersion}, items}
 *   GET <collection>?watch=true&resourceVersion=N
 *                                          → 200, newline-delimited {type, object} events newer than N,
 *                                            then live ones; ERROR 410 (and close) when N was compacted
 * for the collections  /api/v1[/namespaces/<ns>]/{pods,resourcequotas,limitranges}, /api/v1/{nodes,namespaces}  and
 * /apis/kubevirt.io/v1[/namespaces/<ns>]/kubevirts, plus  GET /version  (the gitVersion set in `version`),
 * with equality/existence label selectors. The test drives it: create/update/remove objects,
 * drop or cleanly end open watches, answer the next requests with an HTTP error, compact history.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';

type Json = Record<string, unknown>;
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

interface ResourceKind {
  /** URL prefix of the group version: /api/v1 or /apis/<group>/<version>. */
  groupVersion: string;
  apiVersion: string;
  kind: string;
  plural: string;
}

export const PODS: ResourceKind = { groupVersion: '/api/v1', apiVersion: 'v1', kind: 'Pod', plural: 'pods' };
export const KUBEVIRTS: ResourceKind = {
  groupVersion: '/apis/kubevirt.io/v1', apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', plural: 'kubevirts',
};
export const NODES: ResourceKind = { groupVersion: '/api/v1', apiVersion: 'v1', kind: 'Node', plural: 'nodes' };
export const RESOURCEQUOTAS: ResourceKind = { groupVersion: '/api/v1', apiVersion: 'v1', kind: 'ResourceQuota', plural: 'resourcequotas' };
export const LIMITRANGES: ResourceKind = { groupVersion: '/api/v1', apiVersion: 'v1', kind: 'LimitRange', plural: 'limitranges' };
/** Cluster-scoped; PUT <name>/status replaces the object's status with resourceVersion checking, as the apiserver does. */
export const SITEHOOKS: ResourceKind = {
  groupVersion: '/apis/premigration-hooks.kubevirt.io/v1alpha1', apiVersion: 'premigration-hooks.kubevirt.io/v1alpha1', kind: 'SiteHook', plural: 'sitehooks',
};
/** Cluster-scoped: GET /api/v1/namespaces (the route's plural, with no namespace part). */
export const NAMESPACES: ResourceKind = { groupVersion: '/api/v1', apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' };
const KINDS = [PODS, KUBEVIRTS, NODES, RESOURCEQUOTAS, LIMITRANGES, SITEHOOKS, NAMESPACES];

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  object: Json;
}

interface OpenWatch {
  plural: string;
  namespace?: string;
  selector: Selector;
  res: ServerResponse;
  socket: Socket;
}

export interface RecordedRequest {
  plural: string;
  namespace?: string;
  watch: boolean;
  resourceVersion?: string;
  labelSelector?: string;
}

/** Requirement of a label selector: key=value, key==value, key!=value, key, !key. */
type Requirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };
type Selector = Requirement[];

export function parseLabelSelector(text: string | null): Selector {
  if (!text) return [];
  return text.split(',').map((part): Requirement => {
    const p = part.trim();
    const ne = p.indexOf('!=');
    if (ne > 0) return { key: p.slice(0, ne), op: '!=', value: p.slice(ne + 2) };
    const eq = p.indexOf('=');
    if (eq > 0) return { key: p.slice(0, eq), op: '=', value: p.slice(eq + (p[eq + 1] === '=' ? 2 : 1)) };
    if (p.startsWith('!')) return { key: p.slice(1), op: '!exists' };
    return { key: p, op: 'exists' };
  });
}

function matches(selector: Selector, obj: Json): boolean {
  const labels = ((obj.metadata as Json | undefined)?.labels ?? {}) as Record<string, string>;
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case '=': return has && labels[r.key] === r.value;
      case '!=': return !has || labels[r.key] !== r.value;
      case 'exists': return has;
      case '!exists': return !has;
    }
  });
}

const meta = (o: Json): Json => (o.metadata ??= {}) as Json;
const keyOf = (plural: string, o: Json): string => `${plural}/${typeof meta(o).namespace === 'string' ? (meta(o).namespace as string) : ''}/${meta(o).name as string}`;
const clone = (o: Json): Json => structuredClone(o);

export interface FakeApiServerOptions {
  /** Events kept for watch resumption; older resourceVersions get 410 Gone. */
  historyLimit?: number;
}

export class FakeApiServer {
  private server: Server | undefined;
  private readonly objects = new Map<string, Json>();
  private history: StoredEvent[] = [];
  /** resourceVersions at or below this are "too old" (compacted). */
  private compactedThrough = 0;
  private rv = 100;
  private readonly watches = new Set<OpenWatch>();
  private readonly sockets = new Set<Socket>();
  private readonly failures: Array<{ on: 'list' | 'watch' | 'any'; status: number }> = [];
  readonly requests: RecordedRequest[] = [];
  private readonly historyLimit: number;
  /** What GET /version answers (a real apiserver's shape, trimmed); undefined: 404. */
  version: { major: string; minor: string; gitVersion: string } | undefined = { major: '1', minor: '30', gitVersion: 'v1.30.4' };

  constructor(opts: FakeApiServerOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 1000;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('fake apiserver not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** A kubeconfig for this server: plain http requires skipTLSVerify in client-node. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'not-a-secret' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.watches.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  // ---- driving the state ----

  /** Create an object (namespace/name required); fills uid, resourceVersion, creationTimestamp. */
  create(kind: ResourceKind, object: Json): Json {
    const o = clone(object);
    o.apiVersion ??= kind.apiVersion;
    o.kind ??= kind.kind;
    const m = meta(o);
    m.uid ??= randomUUID();
    m.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const key = keyOf(kind.plural, o);
    if (this.objects.has(key)) throw new Error(`fake apiserver: ${key} already exists`);
    return this.commit(kind.plural, 'ADDED', o);
  }

  /** Replace an existing object (same namespace/name); keeps its uid and creationTimestamp. */
  update(kind: ResourceKind, object: Json): Json {
    const o = clone(object);
    const key = keyOf(kind.plural, o);
    const old = this.objects.get(key);
    if (!old) throw new Error(`fake apiserver: ${key} not found`);
    o.apiVersion ??= kind.apiVersion;
    o.kind ??= kind.kind;
    meta(o).uid = meta(old).uid;
    meta(o).creationTimestamp = meta(old).creationTimestamp;
    return this.commit(kind.plural, 'MODIFIED', o);
  }

  remove(kind: ResourceKind, namespace: string, name: string): void {
    const key = `${kind.plural}/${namespace}/${name}`;
    const old = this.objects.get(key);
    if (!old) throw new Error(`fake apiserver: ${key} not found`);
    this.commit(kind.plural, 'DELETED', clone(old));
  }

  get(kind: ResourceKind, namespace: string, name: string): Json | undefined {
    const o = this.objects.get(`${kind.plural}/${namespace}/${name}`);
    return o && clone(o);
  }

  /** Destroy every open watch connection mid-stream (a network cut, a proxy reset). */
  dropWatches(): void {
    for (const w of this.watches) w.socket.destroy();
    this.watches.clear();
  }

  /** End every open watch cleanly, as the apiserver does when timeoutSeconds expires. */
  endWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  /** Answer the next `count` requests of a kind (list, watch or any) with an HTTP error status. */
  failNext(on: 'list' | 'watch' | 'any', status: number, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push({ on, status });
  }

  /** Forget the failures failNext() queued and not yet served. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /** Forget history: watches resuming from any resourceVersion seen so far get 410 Gone. */
  compact(): void {
    this.compactedThrough = this.rv;
    this.history = [];
  }

  /** Send a BOOKMARK carrying the current resourceVersion to every open watch. */
  bookmark(): void {
    for (const w of this.watches) {
      this.send(w, { type: 'BOOKMARK', object: { kind: 'Status', metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  openWatches(plural?: string): number {
    return [...this.watches].filter((w) => plural === undefined || w.plural === plural).length;
  }

  countRequests(filter: Partial<RecordedRequest>): number {
    return this.requests.filter((r) => Object.entries(filter).every(([k, v]) => r[k as keyof RecordedRequest] === v)).length;
  }

  // ---- protocol ----

  private commit(plural: string, type: StoredEvent['type'], o: Json): Json {
    this.rv += 1;
    meta(o).resourceVersion = String(this.rv);
    const key = keyOf(plural, o);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, o);
    const event: StoredEvent = { rv: this.rv, type, plural, object: clone(o) };
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.shift() as StoredEvent;
      this.compactedThrough = dropped.rv;
    }
    for (const w of this.watches) if (this.wants(w, event)) this.send(w, { type, object: event.object });
    return clone(o);
  }

  private wants(w: OpenWatch, e: StoredEvent): boolean {
    if (w.plural !== e.plural) return false;
    if (w.namespace !== undefined && meta(e.object).namespace !== w.namespace) return false;
    return matches(w.selector, e.object);
  }

  private send(w: OpenWatch, event: { type: WatchEventType; object: Json }): void {
    if (!w.socket.destroyed) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  /** Status writes received (PUT …/status), in order: name, and whether they were stored. */
  readonly statusWrites: Array<{ name: string; stored: boolean }> = [];

  /** PUT <collection>/<name>/status of a cluster-scoped kind: 409 unless resourceVersion is current. */
  private putStatus(req: IncomingMessage, res: ServerResponse, kind: ResourceKind, name: string): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const key = `${kind.plural}//${name}`;
      const old = this.objects.get(key);
      let sent: Json;
      try {
        sent = JSON.parse(body) as Json;
      } catch {
        return this.status(res, 400, 'BadRequest', 'not JSON');
      }
      if (!old) return this.status(res, 404, 'NotFound', `${key} not found`);
      if (meta(sent).resourceVersion !== meta(old).resourceVersion) {
        this.statusWrites.push({ name, stored: false });
        return this.status(res, 409, 'Conflict', 'the object has been modified');
      }
      const o = clone(old);
      o.status = sent.status;
      const stored = this.commit(kind.plural, 'MODIFIED', o);
      this.statusWrites.push({ name, stored: true });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stored));
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET' && url.pathname === '/version') {
      if (!this.version) return this.status(res, 404, 'NotFound', 'no version');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(this.version));
      return;
    }
    const statusRoute = /^(\/apis\/[^/]+\/[^/]+)\/([^/]+)\/([^/]+)\/status$/.exec(url.pathname);
    const statusKind = statusRoute && KINDS.find((k) => k.groupVersion === statusRoute[1] && k.plural === statusRoute[2]);
    if (req.method === 'PUT' && statusRoute && statusKind) return this.putStatus(req, res, statusKind, statusRoute[3] as string);
    const route = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(url.pathname);
    const kind = route && KINDS.find((k) => k.groupVersion === route[1] && k.plural === route[3]);
    if (req.method !== 'GET' || !route || !kind) return this.status(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
    const namespace = route[2];
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const recorded: RecordedRequest = { plural: kind.plural, watch };
    if (namespace !== undefined) recorded.namespace = namespace;
    const rvParam = url.searchParams.get('resourceVersion');
    if (rvParam !== null) recorded.resourceVersion = rvParam;
    const selectorText = url.searchParams.get('labelSelector');
    if (selectorText !== null) recorded.labelSelector = selectorText;
    this.requests.push(recorded);

    const failure = this.failures.findIndex((f) => f.on === 'any' || f.on === (watch ? 'watch' : 'list'));
    if (failure >= 0) {
      const status = this.failures.splice(failure, 1)[0]?.status ?? 500;
      return this.status(res, status, status === 410 ? 'Expired' : 'InternalError', `injected failure ${status}`);
    }

    const selector = parseLabelSelector(selectorText);
    const inScope = (o: Json): boolean =>
      (namespace === undefined || meta(o).namespace === namespace) && matches(selector, o);

    if (!watch) {
      const items = [...this.objects.entries()]
        .filter(([key, o]) => key.startsWith(`${kind.plural}/`) && inScope(o))
        .map(([, o]) => clone(o));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata: { resourceVersion: String(this.rv) }, items,
      }));
      return;
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { plural: kind.plural, selector, res, socket: req.socket };
    if (namespace !== undefined) w.namespace = namespace;
    const from = Number(rvParam ?? '0');
    if (rvParam !== null && rvParam !== '' && from < this.compactedThrough) {
      // What kube-apiserver does for a compacted resourceVersion: 200, one ERROR event, then close.
      this.send(w, {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from} (${this.compactedThrough})` },
      });
      res.end();
      return;
    }
    for (const e of this.history) if (e.rv > from && this.wants(w, e)) this.send(w, { type: e.type, object: e.object });
    this.watches.add(w);
    req.socket.on('close', () => this.watches.delete(w));
  }
}

/**
 * Poll until `condition` holds. The bound is a hang guard, not a timing assertion: on a loaded
 * machine it is generous; the tests assert *what* happens, never how fast.
 */
export async function waitFor(condition: () => boolean, what: string, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
