/**
 * `${fact}` references in SiteHook values. Facts are measured on the migration target and nothing
 * else is: a value cannot read the domain, the environment or a file.
 *
 * - `${name}` is replaced by the fact's value; `name` must be one of FACTS (else an error at
 *   SiteHook validation, never at migration time).
 * - `$${` writes a literal `${`; any other `$` is literal.
 * - Values are text: in `set` the editor escapes them for where they land; in `appendXML` each
 *   value is escaped (`&`, `<`, `>`, `"`, `'`) before the fragment is parsed, so a fact can never
 *   add markup.
 */
import { formatCpuList, type HostTopology } from '../topology/index.js';

export const FACTS = ['node.name', 'pod.name', 'pod.namespace', 'vmi.name', 'cpuset', 'numa.nodes'] as const;
export type FactName = (typeof FACTS)[number];
export type Facts = Partial<Record<FactName, string>>;

const KNOWN: ReadonlySet<string> = new Set(FACTS);

export function isFactName(name: string): name is FactName {
  return KNOWN.has(name);
}

type Piece = { text: string } | { fact: FactName };

/** Split a value into literal text and fact references. Throws Error with a clear message. */
export function parseTemplate(value: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    if (value.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (value.startsWith('${', i)) {
      const end = value.indexOf('}', i + 2);
      if (end === -1) throw new Error(`unterminated \${ at offset ${i} (write $\${ for a literal \${)`);
      const name = value.slice(i + 2, end);
      if (!isFactName(name)) throw new Error(`unknown fact \${${name}}; known facts: ${FACTS.join(', ')}`);
      if (text !== '') pieces.push({ text });
      text = '';
      pieces.push({ fact: name });
      i = end + 1;
      continue;
    }
    text += value[i];
    i++;
  }
  if (text !== '') pieces.push({ text });
  return pieces;
}

/** The facts a value refers to. */
export function factsIn(value: string): FactName[] {
  return parseTemplate(value).flatMap((p) => ('fact' in p ? [p.fact] : []));
}

/** Missing fact at migration time: the target cannot supply it. */
export class MissingFact extends Error {
  constructor(readonly fact: FactName) {
    super(`fact \${${fact}} has no value on this target`);
  }
}

/** Substitute facts; `escape` is applied to each fact's value (not to the literal text). */
export function substitute(value: string, facts: Facts, escape: (v: string) => string = (v) => v): string {
  let out = '';
  for (const p of parseTemplate(value)) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const v = facts[p.fact];
    if (v === undefined) throw new MissingFact(p.fact);
    out += escape(v);
  }
  return out;
}

/** XML-escape a fact for any place in a fragment (text or either quote style). */
export function escapeForMarkup(v: string): string {
  return v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The facts a request carries: the compute container's cpuset and the host NUMA nodes it spans. */
export function measuredFacts(cpuset: readonly number[], host: HostTopology): Facts {
  const cells = new Set<number>();
  for (const cpu of cpuset) {
    const c = host.cpus.get(cpu);
    if (c !== undefined) cells.add(c.node);
  }
  return { cpuset: formatCpuList([...cpuset]), 'numa.nodes': formatCpuList([...cells].sort((a, b) => a - b)) };
}
