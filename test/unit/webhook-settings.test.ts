/** `premigration-hooks webhook` flags and environment. */
import { parseWebhookSettings, usage } from '../../src/webhook/config/settings.js';
import { DEFAULT_HOOKS, REGISTRY } from '../../src/core/hooks/registry.js';
import { InputError } from '../../src/core/errors.js';

const base = ['--tls-cert-dir', '/etc/webhook/certs', '--image', 'quay.io/example/premigration-hooks:v0.1.0'];

describe('parseWebhookSettings', () => {
  test('defaults', () => {
    const s = parseWebhookSettings(base);
    expect(s).toMatchObject({
      tlsCertDir: '/etc/webhook/certs', devSelfSigned: false, port: 8443, metricsPort: 8080, bindAddress: '::',
      gateSource: 'kubevirt', kubevirtNamespace: 'kubevirt', watchTargetPods: false, maxBodyBytes: 3 * 1024 * 1024 + 256 * 1024, reportPort: 8444,
      logLevel: 'info', shutdownDelayMs: 5000, namespaceLimits: 'check',
    });
    expect(s.inject).toEqual({
      image: 'quay.io/example/premigration-hooks:v0.1.0', imagePullPolicy: 'IfNotPresent', imageCommand: 'premigration-hooks',
      sidecarMode: 'auto', injectPolicy: 'needed', hooks: [...DEFAULT_HOOKS], trustUpstream: [], onError: 'pass', clientTimeoutMs: 2000, logLevel: 'info',
      guaranteed: { cpu: '100m', memory: '96Mi' }, burstable: { cpu: '10m', memory: '64Mi' },
    });
  });

  test('flags, --flag=value, and env (a flag beats its env var)', () => {
    const s = parseWebhookSettings(
      [...base, '--port=9443', '--gate-source', 'always', '--sidecar-mode', 'classic', '--hooks', 'cpu-dedicated', '--on-error', 'abort', '--watch-target-pods'],
      { PREMIGRATION_HOOKS_PORT: '7443', PREMIGRATION_HOOKS_KUBEVIRT_NAMESPACE: 'openshift-cnv', PREMIGRATION_HOOKS_CLIENT_TIMEOUT_MS: '1500' },
    );
    expect(s).toMatchObject({ port: 9443, gateSource: 'always', kubevirtNamespace: 'openshift-cnv', watchTargetPods: true });
    expect(s.inject).toMatchObject({ sidecarMode: 'classic', hooks: ['cpu-dedicated'], onError: 'abort', clientTimeoutMs: 1500 });
  });

  test('inject by need, sidecar shape, coexist cpu-dedicated and namespace limits: flags and env', () => {
    const s = parseWebhookSettings([...base, '--inject-policy', 'always', '--sidecar-mode', 'native', '--coexist-cpu-dedicated=false', '--namespace-limits', 'ignore']);
    expect(s.namespaceLimits).toBe('ignore');
    expect(s.inject).toMatchObject({ injectPolicy: 'always', sidecarMode: 'native', trustUpstream: ['cpu-dedicated'] });
    const e = parseWebhookSettings(base, {
      PREMIGRATION_HOOKS_INJECT_POLICY: 'always', PREMIGRATION_HOOKS_COEXIST_CPU_DEDICATED: 'false',
      PREMIGRATION_HOOKS_SIDECAR_MODE: 'classic', PREMIGRATION_HOOKS_NAMESPACE_LIMITS: 'ignore',
    });
    expect(e.namespaceLimits).toBe('ignore');
    expect(e.inject).toMatchObject({ injectPolicy: 'always', sidecarMode: 'classic', trustUpstream: ['cpu-dedicated'] });
    expect(parseWebhookSettings([...base, '--coexist-cpu-dedicated']).inject.trustUpstream).toEqual([]);
    expect(() => parseWebhookSettings([...base, '--inject-policy', 'sometimes'])).toThrow(/inject-policy/);
    expect(() => parseWebhookSettings([...base, '--sidecar-mode', 'hybrid'])).toThrow(/sidecar-mode/);
  });

  test('env alone is enough (Deployment-style configuration)', () => {
    const s = parseWebhookSettings([], { PREMIGRATION_HOOKS_DEV_SELF_SIGNED: 'true', PREMIGRATION_HOOKS_IMAGE: 'r/i:1', PREMIGRATION_HOOKS_SHUTDOWN_DELAY_MS: '0' });
    expect(s).toMatchObject({ devSelfSigned: true, shutdownDelayMs: 0 });
    expect(s.tlsCertDir).toBeUndefined();
  });

  test.each([
    [['--image', 'r/i:1'], /one of --tls-cert-dir or --dev-self-signed/],
    [[...base, '--dev-self-signed'], /mutually exclusive/],
    [['--dev-self-signed'], /--image is required/],
    [[...base, '--gate-source', 'maybe'], /kubevirt\|always\|never/],
    [[...base, '--sidecar-mode', 'sidecar'], /native\|classic/],
    [[...base, '--on-error', 'ignore'], /pass.*abort/],
    [[...base, '--port', '70000'], /≤ 65535/],
    [[...base, '--metrics-port', '8443'], /must differ/],
    [[...base, '--sidecar-cpu', '100.5m'], /whole number of millicores/],
    [[...base, '--sidecar-memory', 'lots'], /resource quantity/],
    [[...base, '--hooks', 'Bad_Name'], /--hooks: unknown hook "Bad_Name"/],
    [[...base, '--kubevirt-namespace', 'Not Valid'], /valid namespace/],
    [[...base, '--frobnicate'], /unknown flag --frobnicate/],
    [[...base, '--port'], /needs a value/],
    [[...base, 'stray'], /unexpected argument/],
    [[...base, '--dev-self-signed=perhaps'], /true or false/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseWebhookSettings(argv)).toThrow(InputError);
    expect(() => parseWebhookSettings(argv)).toThrow(message);
  });

  test('usage lists every flag with its environment variable', () => {
    expect(usage()).toMatch(/--gate-source <value>.*\[\$PREMIGRATION_HOOKS_GATE_SOURCE\]/);
    expect(usage()).toMatch(/--dev-self-signed .*\[\$PREMIGRATION_HOOKS_DEV_SELF_SIGNED\]/);
  });
});

describe('--hooks is checked against the hook registry', () => {
  const base = ['--dev-self-signed', '--image', 'x'];
  test('a misspelt hook is refused, naming every valid hook', () => {
    expect(() => parseWebhookSettings([...base, '--hooks', 'cpu-dedicatd'])).toThrow(`--hooks: unknown hook "cpu-dedicatd"; valid hooks: ${REGISTRY.names().join(', ')}`);
  });
  test('the environment setting is checked the same way', () => {
    expect(() => parseWebhookSettings(base, { PREMIGRATION_HOOKS_HOOKS: 'disk-namespace,nope' })).toThrow(/unknown hook "nope"/);
  });
  test('every registered hook is accepted; the default is the registry default set', () => {
    expect(parseWebhookSettings([...base, '--hooks', REGISTRY.names().join(',')]).inject.hooks).toEqual(REGISTRY.names());
    expect(parseWebhookSettings(base).inject.hooks).toEqual(REGISTRY.defaultNames());
  });
});
