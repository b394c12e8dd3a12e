/** Kubernetes name rules, in one place. */

/** An RFC 1123 DNS label: a namespace name, or a name segment of ours (hooks, containers). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const isDnsLabel = (v: string): boolean => DNS_LABEL.test(v);
