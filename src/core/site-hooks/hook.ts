/**
 * A compiled SiteHook as a chain Hook named `site:<name>`, and as a registry entry.
 *
 * Each site hook is tried first on a copy of the document as the hooks before it left it, and
 * the ABI guard checks that copy: a site hook whose edit fails, whose `require` matches nothing
 * or that would change the guest ABI is refused as a whole. With `onError: pass` it is then
 * skipped (its edits are not made, the chain goes on); otherwise the chain refuses, and the
 * client's on_error policy decides the migration. Only an edit set that passed is made on the
 * real document, so a site hook never leaves half its edits behind.
 */
import { abiSnapshot, assertSameAbi } from '../abi-guard.js';
import { AbiViolation, HookRefusal, PremigrationError } from '../errors.js';
import type { HookEntry } from '../hooks/registry.js';
import type { Change, Hook, HookContext } from '../hooks/types.js';
import { DomainXml, type XmlElement } from '../xml/index.js';
import { forbiddenInFragment, forbiddenShape, FORBIDDEN_DEVICES, FORBIDDEN_ELEMENTS, isAllowed, type AllowList } from './allow.js';
import { escapeForMarkup, measuredFacts, MissingFact, substitute, type Facts } from './facts.js';
import { elementKey, parseFragmentSpec, specKey } from './fragment.js';
import type { CompiledEdit, CompiledSiteHook } from './model.js';
import { evaluatePath, type PathMatch } from './path.js';
import { labelsMatch } from './selector.js';

export const SITE_PREFIX = 'site:';

/** Upstream KubeVirt has nothing like a site hook: they count in `coexist` mode too. */
export const SITE_UPSTREAM = { level: 'none', reason: 'upstream KubeVirt has no site hooks: nothing declares target-side rewrites of a site' } as const;

export interface SiteHookOptions {
  /** Facts known before any request: node.name, pod.name, pod.namespace, vmi.name. */
  facts: Facts;
  allow: AllowList;
  /** false: ${cpuset} and ${numa.nodes} come only from `facts` (the CLI when it cannot measure them). */
  measure?: boolean;
  /** Hears each application that changed the domain (the server's audit log line). */
  onApplied?: (hook: string, changes: readonly Change[]) => void;
}

/** What a skipped (onError: pass) site hook refused, for logs and explain. */
export interface SiteHookSkip {
  hook: string;
  reason: string;
}

class EditFailure extends Error {}

/** Refuse at migration time what validation refused too, on the element actually matched. */
function assertTargetSafe(m: PathMatch): void {
  const names: string[] = [];
  for (let e: XmlElement | null = m.el; e !== null; e = e.parent) names.push(e.name);
  names.reverse(); // domain first
  const shape = names.slice(1);
  const why = forbiddenShape(m.attr !== undefined ? [...shape, `@${m.attr}`] : shape);
  if (why !== undefined) throw new EditFailure(why);
  for (const n of names) {
    const local = n.slice(n.indexOf(':') + 1);
    if (FORBIDDEN_ELEMENTS.has(local)) throw new EditFailure(`<${n}> is never editable`);
  }
  if (names[1] === 'devices' && names[2] !== undefined && FORBIDDEN_DEVICES.has(names[2])) throw new EditFailure(`<${names[2]}> devices are never editable`);
}

function applyEdit(doc: DomainXml, edit: CompiledEdit, hookName: string, facts: Facts, allow: AllowList): Change[] {
  const matches = evaluatePath(edit.select, doc.root);
  if (matches.length === 0) {
    if (edit.require) throw new EditFailure('matched nothing (require: true)');
    return [];
  }
  if (!isAllowed(allow, edit.shape)) throw new EditFailure(`${edit.shape.join('/')} is not on this target's allow-list`);
  const changes: Change[] = [];
  const value = edit.value === undefined ? undefined : substitute(edit.value, facts, edit.kind === 'appendXML' ? escapeForMarkup : (v) => v);
  for (const m of matches) {
    assertTargetSafe(m);
    if (edit.kind === 'set') {
      const v = value!;
      if (m.attr !== undefined) {
        const before = m.el.attr(m.attr) ?? null;
        if (before === v) continue;
        m.el.setAttr(m.attr, v);
        changes.push({ hook: hookName, path: `${m.el.path()}/@${m.attr}`, before, after: v });
      } else {
        if (m.el.elements().length > 0) throw new EditFailure(`set would replace the child elements of ${m.el.path()}; set applies to attributes and text-only elements`);
        const before = m.el.text();
        if (before === v) continue;
        m.el.setText(v);
        changes.push({ hook: hookName, path: m.el.path(), before, after: v });
      }
    } else if (edit.kind === 'remove') {
      if (m.attr !== undefined) {
        const before = m.el.attr(m.attr) ?? null;
        const path = `${m.el.path()}/@${m.attr}`;
        m.el.removeAttr(m.attr);
        changes.push({ hook: hookName, path, before, after: null });
      } else {
        const path = m.el.path();
        const before = m.el.elements().length === 0 ? m.el.text() : `<${m.el.name}>…</${m.el.name}>`;
        m.el.remove();
        changes.push({ hook: hookName, path, before, after: null });
      }
    } else {
      const spec = parseFragmentSpec(value!);
      const check = (s: typeof spec): void => {
        const why = forbiddenInFragment(s.name, Array.isArray(s.attrs) ? s.attrs : Object.entries(s.attrs ?? {}));
        if (why !== undefined) throw new EditFailure(why);
        for (const c of s.children ?? []) check(c);
      };
      check(spec);
      const key = specKey(spec);
      if (m.el.elements(spec.name).some((c) => elementKey(c) === key)) continue; // already there
      const added = m.el.insert(spec);
      changes.push({ hook: hookName, path: added.path(), before: null, after: value!.trim().replace(/\s*\n\s*/g, ' ') });
    }
  }
  return changes;
}

function runEdits(doc: DomainXml, hook: CompiledSiteHook, hookName: string, facts: Facts, allow: AllowList): Change[] {
  const changes: Change[] = [];
  for (const edit of hook.edits) {
    try {
      changes.push(...applyEdit(doc, edit, hookName, facts, allow));
    } catch (err) {
      const message = err instanceof MissingFact || err instanceof EditFailure || err instanceof PremigrationError || err instanceof Error ? err.message : String(err);
      throw new HookRefusal(hookName, `edit ${edit.index + 1} (select "${edit.select.source}"): ${message}`);
    }
  }
  return changes;
}

/** The chain hook for one compiled SiteHook. `onSkip` hears of a refusal passed over (onError: pass). */
export function siteHook(hook: CompiledSiteHook, opts: SiteHookOptions, onSkip?: (skip: SiteHookSkip) => void): Hook {
  const name = SITE_PREFIX + hook.name;
  return {
    name,
    description: `site hook ${hook.name}: ${hook.spec.edits.length} edit(s)`,
    appliesTo: () => true,
    apply(doc: DomainXml, ctx: HookContext): Change[] {
      // A fact given explicitly (the CLI's --fact) beats a measured one.
      const facts: Facts = { ...(opts.measure === false ? {} : measuredFacts(ctx.cpuset, ctx.host)), ...opts.facts };
      // Trial run on a copy, with the ABI guard, so that a refused site hook leaves nothing behind.
      try {
        const trial = DomainXml.parse(doc.serialize(), { maxBytes: Number.MAX_SAFE_INTEGER });
        const snapshot = abiSnapshot(trial);
        runEdits(trial, hook, name, facts, opts.allow);
        if (trial.modified) {
          try {
            assertSameAbi(snapshot, trial, trial.serialize());
          } catch (err) {
            if (err instanceof AbiViolation) throw new HookRefusal(name, err.message);
            throw err;
          }
        }
      } catch (err) {
        if (hook.spec.onError === 'pass' && err instanceof PremigrationError) {
          onSkip?.({ hook: name, reason: err.message });
          return [];
        }
        throw err;
      }
      const changes = runEdits(doc, hook, name, facts, opts.allow);
      if (changes.length > 0) opts.onApplied?.(name, changes);
      return changes;
    },
  };
}

/** The registry entry of a SiteHook without its code (`site:<name>`; upstream has no equivalent). */
export function siteHookEntry(h: CompiledSiteHook): HookEntry {
  return {
    name: SITE_PREFIX + h.name,
    description: `site hook ${h.name}`,
    source: 'site',
    defaultEnabled: true,
    upstream: SITE_UPSTREAM,
    appliesTo: (pod) => labelsMatch(h.spec.selector, pod.metadata?.labels ?? {}),
  };
}

/** Registry entries (`site:<name>`, after the built-ins) for compiled SiteHooks, in run order. */
export function siteHookEntries(hooks: readonly CompiledSiteHook[], opts: SiteHookOptions, onSkip?: (skip: SiteHookSkip) => void): HookEntry[] {
  return hooks.map((h) => ({ ...siteHookEntry(h), hook: siteHook(h, opts, onSkip) }));
}
