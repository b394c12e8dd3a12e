/** Kubernetes name rules, in one place. */

/** An RFC 1123 DNS label: a namespace name, or a name segment of ours (hooks, containers). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const isDnsLabel = (v: string): boolean => DNS_LABEL.test(v);

/**
 * An RFC 1123 DNS subdomain (at most 253 characters, dot-separated labels): the rule for the
 * name of most Kubernetes objects, a VirtualMachineInstance among them. It never holds '/' or '_'.
 */
export const isDnsSubdomain = (v: string): boolean => v.length <= 253 && v.split('.').every(isDnsLabel);
