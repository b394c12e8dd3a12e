/**
 * The report target from the server's flags/environment (the webhook injects
 * PREMIGRATION_HOOKS_REPORT_URL, _REPORT_CA, _REPORT_TOKEN and _KUBEVIRT_VERSION). Pure.
 * A bad or partial setting never stops the server: reports are optional, hooks are not.
 */
import type { ReportTarget } from './report.js';

export const REPORT_FLAGS = {
  'report-url': { env: 'REPORT_URL', help: 'HTTPS URL of the webhook\'s /report (set by the webhook)' },
  'report-ca': { env: 'REPORT_CA', help: 'PEM CA bundle that verifies the report URL (set by the webhook)' },
  'report-token': { env: 'REPORT_TOKEN', help: 'token for the report URL (set by the webhook)' },
  'kubevirt-version': { env: 'KUBEVIRT_VERSION', help: 'KubeVirt version the pod was created for (set by the webhook)' },
} as const;

export const NOT_CONFIGURED = 'not configured';

export type ReportSetting = { target: ReportTarget } | { disabled: string };

export function parseReportTarget(get: (flag: keyof typeof REPORT_FLAGS) => string | undefined): ReportSetting {
  const url = get('report-url');
  const ca = get('report-ca');
  const token = get('report-token');
  if (!url && !ca && !token) return { disabled: NOT_CONFIGURED };
  if (!url || !ca || !token) return { disabled: 'incomplete: needs --report-url, --report-ca and --report-token' };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { disabled: `--report-url is not a URL: "${url}"` };
  }
  if (parsed.protocol !== 'https:') return { disabled: '--report-url must be https' };
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) return { disabled: '--report-ca holds no PEM certificate' };
  const kubevirtVersion = get('kubevirt-version');
  return { target: { url, ca, token, ...(kubevirtVersion ? { kubevirtVersion } : {}) } };
}
