/**
 * disk-namespace: for a cross-namespace (decentralized) migration, point disk files at the
 * target namespace's copies.
 *
 * KubeVirt lays out file-backed disks under per-namespace directories (e.g.
 * /var/run/kubevirt-private/vmi-disks/... or .../cloud-init-data/<namespace>/<vmi>/...). When the
 * VM lands in another namespace, the first `/<sourceNamespace>/` segment of each such path becomes
 * `/<targetNamespace>/`, as KubeVirt's own target-side hook does; a path in which `/<targetNamespace>/`
 * already comes first is left alone, so a second run changes nothing. Scope, precisely:
 *   - `<disk><source file='…'>` and the data-file `<disk><source><dataStore><source file='…'>`;
 *   - not `dev=` (block devices are /dev nodes, named by the volume, not by namespace),
 *     not `<backingStore>` (KubeVirt does not write one), not network sources.
 */
import { isDnsLabel } from '../names.js';
import { InputError } from '../errors.js';
import type { DomainXml, XmlElement } from '../xml/index.js';
import type { Change, Hook, HookContext } from './types.js';

export const DISK_NAMESPACE = 'disk-namespace';

/** A Kubernetes namespace name (RFC 1123 label), so it can never smuggle a '/' into a path. */

function namespacesToRewrite(ctx: HookContext): { from: string; to: string } | undefined {
  const { sourceNamespace: from, targetNamespace: to } = ctx;
  if (!from || !to || from === to) return undefined;
  for (const [flag, ns] of [['source', from], ['target', to]] as const) {
    if (!isDnsLabel(ns)) throw new InputError(`${flag} namespace "${ns}" is not a valid Kubernetes namespace name`);
  }
  return { from, to };
}

/** The file-path <source> elements of one disk. */
function fileSources(disk: XmlElement): XmlElement[] {
  const source = disk.first('source');
  if (!source) return [];
  const dataFile = source.first('dataStore')?.first('source');
  return dataFile ? [source, dataFile] : [source];
}

export const diskNamespaceHook: Hook = {
  name: DISK_NAMESPACE,
  description: 'Cross-namespace migration: rewrite /<source-namespace>/ to /<target-namespace>/ in disk file paths',
  appliesTo(_doc: DomainXml, ctx: HookContext): boolean {
    return namespacesToRewrite(ctx) !== undefined;
  },
  apply(doc: DomainXml, ctx: HookContext): Change[] {
    const ns = namespacesToRewrite(ctx);
    if (!ns) return [];
    const from = `/${ns.from}/`;
    const to = `/${ns.to}/`;
    const changes: Change[] = [];
    doc.select('devices/disk').forEach((disk, i) => {
      const dev = disk.first('target')?.attr('dev');
      const diskPath = dev !== undefined ? `/domain/devices/disk[@dev='${dev}']` : `/domain/devices/disk[${i + 1}]`;
      for (const source of fileSources(disk)) {
        const file = source.attr('file');
        const at = file === undefined ? -1 : file.indexOf(from);
        if (file === undefined || at < 0) continue;
        // The namespace is the first of the two segments: a path that already shows the target
        // namespace earlier was rewritten before (idempotency), and a deeper segment that repeats
        // the source name (e.g. a VMI named like its namespace) is not the namespace.
        const seen = file.indexOf(to);
        if (seen >= 0 && seen < at) continue;
        const next = file.slice(0, at) + to + file.slice(at + from.length);
        source.setAttr('file', next);
        const where = source.parent === disk ? 'source' : 'source/dataStore/source';
        changes.push({ hook: DISK_NAMESPACE, path: `${diskPath}/${where}/@file`, before: file, after: next });
      }
    });
    return changes;
  },
};
