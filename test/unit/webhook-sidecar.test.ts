/** --sidecar-mode: which shape the apiserver and the kubelets accept (src/webhook/admission/sidecar.ts). */
import { chooseSidecar, nativeSidecarSupport, parseKubeVersion } from '../../src/webhook/admission/sidecar.js';

describe('nativeSidecarSupport', () => {
  test('versions as the apiserver and kubelets report them', () => {
    expect(parseKubeVersion('v1.29.3+k3s1')).toEqual({ major: 1, minor: 29 });
    expect(parseKubeVersion('v1.28.15-eks-abc')).toEqual({ major: 1, minor: 28 });
    expect(parseKubeVersion('1.30')).toEqual({ major: 1, minor: 30 });
    expect(parseKubeVersion('latest')).toBeUndefined();
  });

  test.each([
    [{ apiserver: 'v1.30.1', kubelets: ['v1.30.1', 'v1.29.0'] }, true],
    [{ apiserver: 'v1.28.9', kubelets: ['v1.28.9'] }, false], // 1.28: the SidecarContainers gate is alpha, off
    [{ apiserver: 'v1.30.1', kubelets: ['v1.30.1', 'v1.28.15'] }, false], // one old kubelet is enough to refuse
    [{ apiserver: 'v1.28.9' }, false], // the apiserver alone settles a refusal
    [{ apiserver: 'v1.30.1' }, undefined], // kubelets not listed yet
    [{ kubelets: ['v1.30.1'] }, undefined], // apiserver not read yet
    [{ apiserver: 'v1.30.1', kubelets: [] }, undefined],
    [{ apiserver: 'v1.30.1', kubelets: ['v1.30.1', ''] }, undefined], // a node without a kubeletVersion
    [{}, undefined],
  ] as const)('%j → %s', (versions, native) => {
    expect(nativeSidecarSupport(versions).native).toBe(native);
  });
});

describe('chooseSidecar', () => {
  const yes = { native: true, why: 'all ≥ 1.29' };
  const no = { native: false, why: 'apiserver v1.28.9 is older than 1.29' };
  const unknown = { native: undefined, why: 'not known yet' };
  test('auto: native only where known to be accepted, classic otherwise (accepted everywhere ≥ 1.28)', () => {
    expect(chooseSidecar('auto', yes)).toEqual({ mode: 'native' });
    expect(chooseSidecar('auto', no)).toEqual({ mode: 'classic' });
    expect(chooseSidecar('auto', unknown)).toEqual({ mode: 'classic' });
  });
  test('native where it is known not to be accepted: skip, never a pod the apiserver refuses', () => {
    expect(chooseSidecar('native', no)).toEqual({ skip: 'sidecar-unsupported', why: '--sidecar-mode native, but apiserver v1.28.9 is older than 1.29' });
    expect(chooseSidecar('native', unknown)).toEqual({ mode: 'native' });
    expect(chooseSidecar('native', yes)).toEqual({ mode: 'native' });
  });
  test('classic: always', () => {
    expect(chooseSidecar('classic', yes)).toEqual({ mode: 'classic' });
  });
});
