import { tsFilesUnder } from '../support/files.js';
/**
 * The container image cannot be built here (no Docker engine), so its Dockerfile is checked
 * twice: dockerfile-utils lints it, and the facts the running product depends on are asserted
 * against the code that depends on them — the path the server copies the client from, the uid
 * the injected sidecar runs as, the CLI name the Deployment and the sidecar call, and the npm
 * scripts CI runs.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { CLIENT_BINARY_IN_PACKAGE } from '../../src/server/main.js';
import { inject } from '../../src/webhook/admission/inject.js';
import { CLIENT_BINARY_IN_IMAGE, CLIENT_BINARY_IN_PACKAGE as SHARED_CLIENT_BINARY, IMAGE_APP_DIR } from '../../src/shared/client-binary.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { dockerignoreAllows, landingPath, parseCopy, parseStages, type Instruction, type Stage } from './dockerfile.js';
import { REPO_ROOT } from './kustomize.js';

const read = (rel: string): string => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const DOCKERFILE = read('Dockerfile');
const DOCKERIGNORE = read('.dockerignore');
const PKG = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
const STAGES = parseStages(DOCKERFILE);
const KUBEVIRT_ARCHES = ['amd64', 'arm64', 's390x'];

function stage(name: string): Stage {
  const s = STAGES.find((x) => x.name === name);
  if (!s) throw new Error(`Dockerfile has no stage "${name}"`);
  return s;
}
const runs = (s: Stage): string[] => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const copies = (s: Stage): { ins: Instruction; copy: ReturnType<typeof parseCopy> }[] =>
  s.instructions.filter((i) => i.keyword === 'COPY').map((ins) => ({ ins, copy: parseCopy(ins) }));
const last = (s: Stage, keyword: string): Instruction | undefined => s.instructions.filter((i) => i.keyword === keyword).pop();
/** `npm run <script>` invocations in a stage. */
const npmRuns = (s: Stage): string[] => runs(s).flatMap((r) => [...r.matchAll(/\bnpm run(?:-script)? ([\w:-]+)/g)].map((m) => m[1] as string));

/** Every rule at error severity: a warning (e.g. a relative WORKDIR) fails the test too. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

describe('Dockerfile lint (dockerfile-utils)', () => {
  test('the Dockerfile has no diagnostics, with every rule at error severity', () => {
    const problems = validate(DOCKERFILE, STRICT).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
    expect(problems).toEqual([]);
  });

  test('the linter is live: the same Dockerfile with a broken instruction is reported', () => {
    const broken = DOCKERFILE.replace('WORKDIR /app', 'WORKDIR app').replace(/^USER 107:107$/m, 'USRE 107:107');
    const lines = validate(broken, STRICT).map((d) => d.range.start.line + 1);
    expect(lines).toEqual(expect.arrayContaining([DOCKERFILE.split('\n').findIndex((l) => l === 'USER 107:107') + 1]));
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });
});

describe('Dockerfile structure', () => {
  test('four stages, the runtime last', () => {
    expect(STAGES.map((s) => s.name)).toEqual(['client', 'build', 'deps', 'runtime']);
  });

  describe('client stage: a static musl binary for each of KubeVirt\'s architectures', () => {
    const client = stage('client');
    const script = runs(client).join('\n');

    test('builds on the target platform, from an Alpine (musl) image', () => {
      // No --platform: buildx runs it once per target platform (see the Dockerfile's comment on Tier 3 s390x musl).
      expect(client.platform).toBeUndefined();
      expect(client.image).toMatch(/^alpine:\d+\.\d+$/);
      expect(client.instructions.some((i) => i.keyword === 'ARG' && i.args.trim() === 'TARGETARCH')).toBe(true);
    });

    test('accepts exactly amd64, arm64 and s390x, and checks the ELF machine of each', () => {
      const accepted = /(\S+)\)\s*;;/.exec(script)?.[1]?.split('|');
      expect(accepted?.sort()).toEqual([...KUBEVIRT_ARCHES].sort());
      const checked = [...script.matchAll(/\b(amd64|arm64|s390x)\) machine=/g)].map((m) => m[1]);
      expect(checked.sort()).toEqual([...KUBEVIRT_ARCHES].sort());
    });

    test('links statically and verifies it', () => {
      const env = client.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join('\n');
      expect(env).toMatch(/RUSTFLAGS="[^"]*-C target-feature=\+crt-static/);
      expect(script).toContain("'program interpreter'");
      expect(script).toContain("'(NEEDED)'");
    });

    test('runs the same cargo command as `npm run build:client`, from the hookclient directory', () => {
      const m = /^cd hookclient && (.+)$/.exec(PKG.scripts['build:client'] ?? '');
      expect(m).not.toBeNull();
      expect(script).toContain(m?.[1] as string);
      const sources = copies(client).flatMap(({ copy }) => copy.sources);
      expect(sources).toEqual(expect.arrayContaining(['hookclient/Cargo.toml', 'hookclient/Cargo.lock', 'hookclient/src']));
    });
  });

  describe('TypeScript stages: the npm scripts CI runs', () => {
    test('every `npm run X` in the Dockerfile names a script of package.json', () => {
      const used = STAGES.flatMap(npmRuns);
      expect(used.length).toBeGreaterThan(0);
      expect(used.filter((s) => !(s in PKG.scripts))).toEqual([]);
    });

    test('build: npm ci, then npm run build:ts, once on the build platform', () => {
      const build = stage('build');
      expect(build.platform).toBe('$BUILDPLATFORM');
      expect(runs(build)[0]).toMatch(/^npm ci\b/);
      expect(npmRuns(build)).toEqual(['build:ts']);
    });

    test('build copies every directory tsconfig.build.json compiles', () => {
      const tsconfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
      const copied = copies(stage('build')).flatMap(({ copy }) => copy.sources);
      expect(tsconfig.include.filter((dir) => !copied.includes(dir))).toEqual([]);
    });

    test('deps: npm ci --omit=dev without install scripts', () => {
      const [cmd] = runs(stage('deps'));
      expect(cmd).toMatch(/^npm ci\b/);
      expect(cmd).toContain('--omit=dev');
      expect(cmd).toContain('--ignore-scripts');
    });

    test('production dependencies are architecture-independent, so building them on $BUILDPLATFORM is sound', () => {
      const lock = JSON.parse(read('package-lock.json')) as {
        packages: Record<string, { dev?: boolean; hasInstallScript?: boolean; os?: string[]; cpu?: string[] }>;
      };
      const prod = Object.entries(lock.packages).filter(([name, p]) => name !== '' && !p.dev);
      expect(prod.length).toBeGreaterThan(0);
      const native = prod.filter(([, p]) => p.hasInstallScript || p.os || p.cpu).map(([name]) => name);
      expect(native).toEqual([]);
    });
  });

  describe('runtime stage', () => {
    const runtime = stage('runtime');
    const workdir = (): string => {
      const w = last(runtime, 'WORKDIR');
      if (!w) throw new Error('runtime has no WORKDIR');
      return w.args.trim();
    };
    const landed = (): Map<string, { from: string | undefined; source: string }> => {
      const out = new Map<string, { from: string | undefined; source: string }>();
      for (const { ins, copy } of copies(runtime)) {
        for (const source of copy.sources) {
          out.set(landingPath(runtime, ins, source, copy.dest), { from: copy.from, source });
        }
      }
      return out;
    };

    test('runs a Node LTS (22 or 24), not Node 20 which is past its end of life', () => {
      expect(runtime.image).toMatch(/^node:(22|24)-/);
      expect(stage('build').image).toBe(runtime.image);
    });

    test('runs as uid 107, the uid the webhook gives the injected sidecar', () => {
      const user = last(runtime, 'USER')?.args.trim();
      expect(user).toBe('107:107');
      const pod = JSON.parse(read('test/fixtures/pods/kv17-dedicated-cpu.json')) as unknown;
      const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example/premigration-hooks:test']).inject;
      const result = inject(pod, settings, { mode: 'inject', hooks: ['cpu-dedicated'] });
      if (result.kind !== 'patch') throw new Error(`inject did not patch: ${JSON.stringify(result)}`);
      const added = result.patch.find((op) => op.op === 'add' && /^\/spec\/(initContainers|containers)\/-$/.test(op.path));
      const ctx = (added as { value: { securityContext: { runAsUser: number; runAsGroup: number } } }).value.securityContext;
      expect(`${ctx.runAsUser}:${ctx.runAsGroup}`).toBe(user);
    });

    test('the injected probes run the client where the image has it (one constant for server, webhook and image)', () => {
      expect(workdir()).toBe(IMAGE_APP_DIR);
      expect(SHARED_CLIENT_BINARY).toBe(CLIENT_BINARY_IN_PACKAGE);
      expect(landed().get(CLIENT_BINARY_IN_IMAGE)?.from).toBe('client');
      const pod = JSON.parse(read('test/fixtures/pods/kv17-dedicated-cpu.json')) as unknown;
      const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example/premigration-hooks:test']).inject;
      for (const sidecar of ['native', 'classic'] as const) {
        const result = inject(pod, settings, { mode: 'inject', hooks: ['cpu-dedicated'], sidecar });
        if (result.kind !== 'patch') throw new Error(`inject did not patch: ${JSON.stringify(result)}`);
        const server = result.patch.find((op) => op.op === 'add' && /^\/spec\/(initContainers|containers)\/-$/.test(op.path) && (op.value as { name: string }).name === 'premigration-hooks');
        const probe = (server as { value: { startupProbe?: { exec: { command: string[] } }; readinessProbe?: { exec: { command: string[] } } } }).value;
        expect((probe.startupProbe ?? probe.readinessProbe)?.exec.command[0]).toBe(CLIENT_BINARY_IN_IMAGE);
      }
    });

    test('ships package.json at the package root, which the server and the ESM loader need', () => {
      expect(landed().get(`${workdir()}/package.json`)).toEqual({ from: undefined, source: 'package.json' });
    });

    test('ships the client at <package root>/' + 'hookclient/target/release/, where `serve --install-client` reads it', () => {
      const at = landed().get(`${workdir()}/${CLIENT_BINARY_IN_PACKAGE}`);
      expect(at?.from).toBe('client');
      const client = stage('client');
      const clientWorkdir = last(client, 'WORKDIR')?.args.trim() ?? '/';
      // The source is where cargo leaves it in the client stage: <workdir>/target/release/<package name>.
      const crate = /^name\s*=\s*"([^"]+)"/m.exec(read('hookclient/Cargo.toml'))?.[1];
      expect(at?.source).toBe(`${clientWorkdir}/target/release/${crate}`);
      expect(path.basename(CLIENT_BINARY_IN_PACKAGE)).toBe(crate);
    });

    test('ships the built app and production node_modules from their stages', () => {
      const got = landed();
      expect(got.get(`${workdir()}/node_modules`)).toEqual({ from: 'deps', source: '/app/node_modules' });
      const dist = [...got.entries()].filter(([dest]) => dest.startsWith(`${workdir()}/dist/`));
      expect(dist.map(([, v]) => v.from)).toEqual(dist.map(() => 'build'));
      // The bin and the webhook the CLI loads are both in there.
      const binFile = `${workdir()}/${PKG.bin['premigration-hooks']}`;
      expect(dist.some(([dest]) => binFile.startsWith(`${dest}/`))).toBe(true);
      expect(dist.some(([dest]) => dest === `${workdir()}/dist/src`)).toBe(true);
    });

    test('ships every directory the CLI is compiled from (all of tsconfig.build.json but bench/)', () => {
      const tsconfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
      const shipped = new Set([...landed().keys()]);
      const missing = tsconfig.include.filter((dir) => dir !== 'bench' && !shipped.has(`${workdir()}/dist/${dir}`));
      expect(missing).toEqual([]);
    });

    test('every package the shipped code imports at run time is a production dependency (the image has no others)', () => {
      const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
      const imported = new Set<string>();
      for (const file of tsFilesUnder(path.join(REPO_ROOT, 'src'))) {
        const text = readFileSync(file, 'utf8');
        const specs = [
          // static imports and re-exports, also multi-line; `import type` is erased by the compiler
          ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;'"]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1] as string),
          ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1] as string),
          ...[...text.matchAll(/\bimport\('([^']+)'\)/g)].map((m) => m[1] as string),
        ];
        for (const spec of specs) {
          if (spec.startsWith('.') || spec.startsWith('node:')) continue;
          imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
        }
      }
      expect(imported.size).toBeGreaterThan(3);
      expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
      // …and the other way round: a production dependency the shipped code never imports (one
      // only the tests use, like fast-xml-parser was) belongs in devDependencies.
      expect(Object.keys(pkg.dependencies).filter((name) => !imported.has(name))).toEqual([]);
    });

    test('the lock file agrees with package.json: the same bin, and the same split of dependencies', () => {
      const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
      const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { bin?: Record<string, string>; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; dev?: boolean }> };
      const root = lock.packages[''];
      expect(root?.bin).toEqual(pkg.bin);
      expect(root?.dependencies).toEqual(pkg.dependencies);
      expect(root?.devDependencies).toEqual(pkg.devDependencies);
      // A test-only parser stays out of `npm ci --omit=dev` (and so out of the image).
      expect(lock.packages['node_modules/fast-xml-parser']?.dev).toBe(true);
    });

    test('ENTRYPOINT is the `premigration-hooks` CLI, on PATH, the command the Deployment and the sidecar run', () => {
      const [binName, binPath] = Object.entries(PKG.bin)[0] as [string, string];
      expect(JSON.parse(last(runtime, 'ENTRYPOINT')?.args ?? 'null')).toEqual([binName]);
      expect(runs(runtime).join('\n')).toContain(`ln -s ${workdir()}/${binPath} /usr/local/bin/${binName}`);
      // The webhook's default --image-command (sidecar command and startup probe) is the same name.
      expect(parseWebhookSettings(['--dev-self-signed', '--image', 'x']).inject.imageCommand).toBe(binName);
      expect(read('manifests/deployment.yaml')).toMatch(new RegExp(`command: \\["${binName}"\\]`));
    });

    test('never runs as root and installs no package manager at run time', () => {
      const users = STAGES.at(-1)?.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.trim()) ?? [];
      expect(users.length).toBeGreaterThan(0);
      expect(users.at(-1)).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(runs(runtime).join('\n')).toMatch(/rm -rf \/usr\/local\/lib\/node_modules/);
    });
  });

  describe('build context (.dockerignore)', () => {
    const contextSources = STAGES.flatMap((s) => copies(s)).filter(({ copy }) => copy.from === undefined).flatMap(({ copy }) => copy.sources);

    test('every COPY from the context exists and is let through .dockerignore', () => {
      expect(contextSources.length).toBeGreaterThan(5);
      for (const src of contextSources) {
        expect([src, statSync(path.join(REPO_ROOT, src)).isFile() || statSync(path.join(REPO_ROOT, src)).isDirectory()]).toEqual([src, true]);
        expect([src, dockerignoreAllows(DOCKERIGNORE, src)]).toEqual([src, true]);
      }
    });

    test('local build output and VCS metadata stay out of the context', () => {
      for (const p of ['node_modules/express/package.json', 'dist/src/cli/main.js', 'hookclient/target/release/premigration-hooks-client', '.git/HEAD', 'test/unit/chain.test.ts']) {
        expect([p, dockerignoreAllows(DOCKERIGNORE, p)]).toEqual([p, false]);
      }
    });
  });
});

describe('the `premigration-hooks` bin after `npm run build:ts`', () => {
  test('has a node shebang and is executable, so the image can put it on PATH', () => {
    const bin = path.join(REPO_ROOT, PKG.bin['premigration-hooks'] as string);
    let mode: number;
    try {
      mode = statSync(bin).mode;
    } catch {
      throw new Error(`${bin} is missing: npm test builds first; alone, run npm run build:ts`);
    }
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect((mode & 0o111).toString(8)).toBe('111');
  });
});
