/**
 * DomainXml: a parsed libvirt domain that serializes back to its exact input bytes,
 * except inside the spans its edits touched.
 */
import { XmlError } from '../errors.js';
import { writeElement, type DocumentContext, type XmlElement } from './node.js';
import { parseDocument, parseFragment } from './parse.js';

export const DEFAULT_MAX_XML_BYTES = 4 * 1024 * 1024;

export interface ParseOptions {
  maxBytes?: number;
}

/** UTF-8 size without encoding the string; exact only when it matters (near the limit). */
function exceedsUtf8Bytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true; // every UTF-16 unit is at least one byte
  if (text.length * 3 <= maxBytes) return false; // every UTF-16 unit is at most three bytes
  return Buffer.byteLength(text, 'utf8') > maxBytes;
}

export class DomainXml implements DocumentContext {
  private rootElement: XmlElement | null = null;
  private edited = false;

  private constructor(private readonly source: string) {}

  static parse(text: string, opts: ParseOptions = {}): DomainXml {
    if (typeof text !== 'string') {
      throw new XmlError(`domain XML must be text, got ${text === null ? 'null' : typeof text}`, 'malformed');
    }
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XML_BYTES;
    if (exceedsUtf8Bytes(text, maxBytes)) {
      throw new XmlError(`domain XML is larger than the limit of ${maxBytes} bytes`, 'too-large');
    }
    const doc = new DomainXml(text);
    const root = parseDocument(text, doc);
    if (root.name !== 'domain') {
      throw new XmlError(`root element is <${root.name}>, expected <domain>`, 'not-domain');
    }
    doc.rootElement = root;
    return doc;
  }

  get root(): XmlElement {
    return this.rootElement!;
  }

  /** True once any edit changed something (edits that set the current value are no-ops). */
  get modified(): boolean {
    return this.edited;
  }

  /** Byte-identical to the input outside edited spans. */
  serialize(): string {
    if (!this.edited) return this.source;
    const root = this.root;
    return this.source.slice(0, root.start) + writeElement(root) + this.source.slice(root.end);
  }

  /**
   * Elements at a slash path below the root, e.g. `cputune/vcpupin`.
   * A leading `/` makes the path absolute (`/domain/cputune/vcpupin`); '' selects the root.
   */
  select(path: string): XmlElement[] {
    let steps = path.split('/');
    let current = [this.root];
    if (path.startsWith('/')) {
      if (steps[1] !== this.root.name) return [];
      steps = steps.slice(2);
    }
    for (const step of steps) {
      if (step === '') continue;
      const next: XmlElement[] = [];
      for (const el of current) for (const c of el.elements(step)) next.push(c);
      current = next;
    }
    return current;
  }

  selectOne(path: string): XmlElement | undefined {
    return this.select(path)[0];
  }

  /** @internal */
  markModified(): void {
    this.edited = true;
  }

  /** @internal */
  parseFragment(xml: string, parent: XmlElement): XmlElement {
    return parseFragment(xml, this, parent);
  }
}

export function parseDomainXml(text: string, opts?: ParseOptions): DomainXml {
  return DomainXml.parse(text, opts);
}
