import { DEFAULT_HOOKS } from '../../src/core/hooks/registry.js';
import { InputError } from '../../src/core/errors.js';
import { identityFacts, parseServerSettings, usage, wantsHelp, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT_MS } from '../../src/server/settings.js';

const defaults = { clientBinary: '/opt/pmh/hookclient/target/release/premigration-hooks-client' };
const parse = (argv: string[], env: Record<string, string> = {}) => parseServerSettings(argv, env, defaults, '/work');

describe('serve settings', () => {
  test('only --socket given: every default, client conf next to the socket', () => {
    expect(parse(['--socket', '/run/pmh/hooks.sock'])).toEqual({
      socket: '/run/pmh/hooks.sock',
      sysfs: '/sys',
      clientBinary: defaults.clientBinary,
      clientConf: '/run/pmh/client.conf',
      clientSocket: '/run/pmh/hooks.sock',
      onError: 'pass',
      timeoutMs: DEFAULT_TIMEOUT_MS,
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      logLevel: 'info',
      headersTimeoutMs: DEFAULT_TIMEOUT_MS,
      requestTimeoutMs: 2 * DEFAULT_TIMEOUT_MS,
      keepAliveTimeoutMs: 1000,
      drainTimeoutMs: DEFAULT_TIMEOUT_MS + 1000,
    });
    expect(DEFAULT_MAX_BODY_BYTES).toBe(4 * 1024 * 1024);
  });

  test('every flag, both --flag value and --flag=value forms; relative paths resolve against cwd', () => {
    const s = parse([
      '--socket=run/hooks.sock',
      '--sysfs', 'fixtures/sys',
      '--hooks', 'cpu-dedicated, disk-namespace',
      '--install-client', 'bin',
      '--client-binary=/x/client',
      '--client-conf', '/etc/pmh/client.conf',
      '--client-socket', '/var/run/premigration-hooks/hooks.sock',
      '--on-error', 'abort',
      '--timeout-ms', '750',
      '--max-body-bytes', '1024',
      '--source-namespace', 'ns-a',
      '--target-namespace', 'ns-b',
      '--pod-namespace', 'ns-b',
      '--vmi-name', 'vm-1.a',
      '--log-level', 'debug',
    ]);
    expect(s).toEqual({
      socket: '/work/run/hooks.sock',
      sysfs: '/work/fixtures/sys',
      hooks: [...DEFAULT_HOOKS],
      installClient: '/work/bin',
      clientBinary: '/x/client',
      clientConf: '/etc/pmh/client.conf',
      clientSocket: '/var/run/premigration-hooks/hooks.sock',
      onError: 'abort',
      timeoutMs: 750,
      maxBodyBytes: 1024,
      sourceNamespace: 'ns-a',
      targetNamespace: 'ns-b',
      podNamespace: 'ns-b',
      vmiName: 'vm-1.a',
      logLevel: 'debug',
      headersTimeoutMs: 750,
      requestTimeoutMs: 1500,
      keepAliveTimeoutMs: 1000,
      drainTimeoutMs: 1750,
    });
  });

  test('environment supplies values; a flag beats its environment variable', () => {
    const env = {
      PREMIGRATION_HOOKS_SOCKET: '/env/hooks.sock',
      PREMIGRATION_HOOKS_ON_ERROR: 'abort',
      PREMIGRATION_HOOKS_TIMEOUT_MS: '900',
      PREMIGRATION_HOOKS_CLIENT_CONF: '/env/client.conf',
      PREMIGRATION_HOOKS_HOOKS: 'cpu-dedicated',
    };
    const fromEnv = parse([], env);
    expect(fromEnv).toMatchObject({ socket: '/env/hooks.sock', onError: 'abort', timeoutMs: 900, clientConf: '/env/client.conf', hooks: ['cpu-dedicated'] });
    const flagWins = parse(['--on-error', 'pass', '--timeout-ms', '100'], env);
    expect(flagWins).toMatchObject({ onError: 'pass', timeoutMs: 100, socket: '/env/hooks.sock' });
  });

  test('the webhook\'s PREMIGRATION_HOOKS_POD_NAMESPACE and _VMI_NAME become the pod facts of every request context', () => {
    const s = parse([], { PREMIGRATION_HOOKS_SOCKET: '/s', PREMIGRATION_HOOKS_POD_NAMESPACE: 'team-b', PREMIGRATION_HOOKS_VMI_NAME: 'vm-b' });
    expect(identityFacts(s)).toEqual({ podNamespace: 'team-b', vmiName: 'vm-b' });
    // Each override stands alone now: the hook reads the other side from the domain.
    expect(identityFacts(parse(['--socket', '/s', '--source-namespace', 'team-a']))).toEqual({ sourceNamespace: 'team-a' });
  });

  test('--install-only: a flag without a value (or =true|false, or its environment variable); needs --install-client', () => {
    const base = ['--socket', '/run/pmh/hooks.sock', '--install-client', '/hooks/qemu.d'];
    expect(parse([...base, '--install-only'])).toMatchObject({ installOnly: true, installClient: '/hooks/qemu.d' });
    // The flag takes no value, so the flag after it is still parsed as a flag.
    expect(parse(['--install-only', ...base, '--on-error', 'abort'])).toMatchObject({ installOnly: true, onError: 'abort' });
    expect(parse([...base, '--install-only=true']).installOnly).toBe(true);
    expect(parse([...base, '--install-only=false'])).not.toHaveProperty('installOnly');
    expect(parse(base, { PREMIGRATION_HOOKS_INSTALL_ONLY: 'true' }).installOnly).toBe(true);
    expect(parse([...base, '--install-only=false'], { PREMIGRATION_HOOKS_INSTALL_ONLY: 'true' })).not.toHaveProperty('installOnly');
    expect(parse(base)).not.toHaveProperty('installOnly');
    expect(() => parse(['--socket', '/s', '--install-only'])).toThrow(new InputError('--install-only needs --install-client'));
    expect(() => parse([...base, '--install-only=yes'])).toThrow(/--install-only must be true or false \(or 1 or 0\), got "yes"/);
    expect(() => parse([...base, '--install-only', 'true'])).toThrow(/unexpected argument "true"/);
  });

  test('an empty environment variable counts as unset', () => {
    expect(parse(['--socket', '/s'], { PREMIGRATION_HOOKS_ON_ERROR: '' }).onError).toBe('pass');
  });

  test.each([
    [[], /--socket is required/],
    [['--socket'], /--socket needs a value/],
    [['--socket', '--sysfs', '/x'], /--socket needs a value/],
    [['--socket', '/s', '--port', '1'], /unknown flag --port/],
    [['--socket', '/s', 'extra'], /unexpected argument "extra"/],
    [['--socket', '/s', '--on-error', 'ignore'], /pass" or "abort/],
    [['--socket', '/s', '--timeout-ms', '0'], /--timeout-ms must be a positive integer/],
    [['--socket', '/s', '--max-body-bytes', '4MiB'], /--max-body-bytes must be a positive integer/],
    [['--socket', '/s', '--log-level', 'verbose'], /--log-level must be one of/],
    [['--socket', '/s', '--hooks', 'CPU_Dedicated'], /--hooks: unknown hook "CPU_Dedicated"/],
    [['--socket', '/s', '--pod-namespace', 'Ns'], /--pod-namespace is not a valid namespace name: "Ns"/],
    [['--socket', '/s', '--vmi-name', 'a_b'], /--vmi-name is not a valid VMI name: "a_b"/],
    [['--socket', '/s', '--source-namespace', 'A', '--target-namespace', 'b'], /not a valid namespace name: "A"/],
    [['--socket', '/s', '--client-socket', 'rel/hooks.sock'], /--client-socket must be absolute/],
    [['--socket', '/s\nsocket=/evil'], /must not contain a newline/],
    [['--socket', '/s', '--client-socket', '/a#b'], /must not contain a newline or "#"/],
    [['--socket', `/${'x'.repeat(120)}`], /longer than 107 bytes/],
  ])('%j is rejected with an InputError', (argv, message) => {
    expect(() => parse(argv)).toThrow(InputError);
    expect(() => parse(argv)).toThrow(message);
  });

  test('usage lists every flag with its environment variable; --help and -h are recognised', () => {
    const text = usage();
    for (const flag of ['socket', 'sysfs', 'hooks', 'install-client', 'install-only', 'client-conf', 'on-error', 'timeout-ms', 'max-body-bytes', 'source-namespace', 'target-namespace', 'pod-namespace', 'vmi-name', 'log-level']) {
      expect(text).toContain(`--${flag} `);
    }
    expect(text).toContain('$PREMIGRATION_HOOKS_MAX_BODY_BYTES');
    expect(text).toContain('$PREMIGRATION_HOOKS_POD_NAMESPACE');
    expect(text).toContain('$PREMIGRATION_HOOKS_VMI_NAME');
    // A flag without a value is shown without one.
    expect(text).toMatch(/^ {2}--install-only {2,}install the client/m);
    expect(text).toContain('$PREMIGRATION_HOOKS_INSTALL_ONLY');
    expect(wantsHelp(['--socket', '/s', '-h'])).toBe(true);
    expect(wantsHelp(['--socket', '/s'])).toBe(false);
  });
});
