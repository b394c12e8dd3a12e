/**
 * Every object of every overlay, as `kubectl kustomize` renders it, against published schemas:
 *  - kubernetes-models (the Kubernetes OpenAPI schema), @kubernetes-models/cert-manager and
 *    @kubernetes-models/prometheus-operator (the CRD schemas), through their validators;
 *  - the same packages' TypeScript declarations, which catch what the OpenAPI validators let
 *    through: unknown fields (a misspelt `readOnlyRootFilesytem` is silently dropped by the
 *    apiserver). Each object becomes an object literal typed as the kind's interface, and the
 *    compiler's excess-property check reports any field the schema does not define.
 */
import path from 'node:path';
import ts from 'typescript';
import { buildOverlay, OVERLAYS, ref, REPO_ROOT, type K8sObject, type Overlay } from './kustomize.js';

/** apiVersion → the npm module directory whose `<Kind>` export models it. */
function modelModule(apiVersion: string): string {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.startsWith('cert-manager.io/')) return `@kubernetes-models/cert-manager/${apiVersion}`;
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

async function modelFor(o: K8sObject): Promise<ModelClass> {
  const mod = (await import(`${modelModule(o.apiVersion)}/${o.kind}`)) as Record<string, ModelClass | undefined>;
  const cls = mod[o.kind];
  if (!cls) throw new Error(`no schema model for ${o.apiVersion} ${o.kind}`);
  return cls;
}

const rendered = new Map<Overlay, K8sObject[]>(OVERLAYS.map((overlay) => [overlay, buildOverlay(overlay)]));

describe.each(OVERLAYS)('overlay %s: OpenAPI / CRD schema validation (kubernetes-models)', (overlay) => {
  const objects = rendered.get(overlay) as K8sObject[];

  it('renders objects', () => {
    expect(objects.length).toBeGreaterThan(10);
  });

  it.each(objects.map((o) => [ref(o), o] as const))('%s is valid', async (_name, o) => {
    const Model = await modelFor(o);
    expect(() => new Model(o).validate()).not.toThrow();
  });
});

describe('the schema validators reject what they should (so a pass means something)', () => {
  it('a Deployment with a string replica count fails', async () => {
    const deployment = structuredClone(rendered.get('default')?.find((o) => o.kind === 'Deployment')) as K8sObject;
    (deployment.spec as Record<string, unknown>).replicas = 'two';
    const Model = await modelFor(deployment);
    expect(() => new Model(deployment).validate()).toThrow(/replicas/);
  });

  it('a Certificate whose isCA is not a boolean fails', async () => {
    const cert = structuredClone(rendered.get('default')?.find((o) => o.kind === 'Certificate')) as K8sObject;
    (cert.spec as Record<string, unknown>).isCA = 'yes';
    const Model = await modelFor(cert);
    expect(() => new Model(cert).validate()).toThrow(/isCA/);
  });
});

// ---------------------------------------------------------------------------------------------
// Unknown fields, through the TypeScript declarations of the same packages.

const VIRTUAL_DIR = path.join(REPO_ROOT, 'test', 'manifests', '.virtual');

/** One virtual module per object: `const o: I<Kind> = <object literal>;`. */
function literalModule(o: K8sObject): string {
  return `import type { I${o.kind} } from '${modelModule(o.apiVersion)}/${o.kind}';\nexport const o: I${o.kind} = ${JSON.stringify(o, null, 2)};\n`;
}

/** Type-check virtual modules in memory; returns the diagnostics per module name. */
function typeCheck(modules: Map<string, string>): Map<string, string[]> {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const files = new Map([...modules].map(([name, text]) => [path.join(VIRTUAL_DIR, `${name}.mts`), text]));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => files.has(f) || ts.sys.fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, lang, onError) => {
    const text = files.get(f);
    return text === undefined ? getSourceFile(f, lang, onError) : ts.createSourceFile(f, text, lang, true);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const result = new Map<string, string[]>();
  for (const [name] of modules) {
    const sf = program.getSourceFile(path.join(VIRTUAL_DIR, `${name}.mts`));
    if (!sf) throw new Error(`virtual module ${name} was not loaded`);
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    result.set(
      name,
      diags.map((d) => {
        const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1;
        return `line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return result;
}

describe('no unknown fields (excess-property check against the packages\' type declarations)', () => {
  const modules = new Map<string, string>();
  for (const [overlay, objects] of rendered) {
    for (const o of objects) modules.set(`${overlay}:${ref(o)}`.replace(/[/:]/g, '_'), literalModule(o));
  }
  const typoed = structuredClone(rendered.get('default')?.find((o) => o.kind === 'Deployment')) as K8sObject;
  const container = (typoed.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0];
  if (container) container.readinesProbe = { httpGet: { path: '/readyz', port: 'https' } };
  modules.set('negative_typo', literalModule(typoed));

  const diagnostics = typeCheck(modules);

  it.each([...modules.keys()].filter((m) => m !== 'negative_typo'))('%s has only fields its schema defines', (name) => {
    expect(diagnostics.get(name)).toEqual([]);
  });

  it('a misspelt field is reported (so a pass means something)', () => {
    expect(diagnostics.get('negative_typo')?.join('\n')).toMatch(/readinesProbe/);
  });
});
