/**
 * Error kinds the core raises. The hook server maps them to HTTP status codes
 * (refusals and bad input → 422, anything else → 500) and the CLI to exit codes.
 */
export type ErrorKind = 'xml' | 'refusal' | 'abi' | 'input';

export class PremigrationError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed, forbidden (DOCTYPE/entities), oversize, or non-<domain> XML. */
export class XmlError extends PremigrationError {
  constructor(
    message: string,
    readonly code: 'malformed' | 'doctype' | 'too-large' | 'not-domain' | 'edit',
    readonly line?: number,
    readonly column?: number,
  ) {
    super('xml', line !== undefined ? `${message} (line ${line}, column ${column ?? 0})` : message);
  }
}

/** A hook decided the domain cannot run on this target (e.g. not enough exclusive CPUs). */
export class HookRefusal extends PremigrationError {
  constructor(readonly hook: string, message: string) {
    super('refusal', `${hook}: ${message}`);
  }
}

/** The chain's output differs from its input outside what libvirt lets a hook change. */
export class AbiViolation extends PremigrationError {
  constructor(readonly element: string, message: string) {
    super('abi', `ABI guard: ${element}: ${message}`);
  }
}

/** Bad flags or request metadata (not the XML itself). */
export class InputError extends PremigrationError {
  constructor(message: string) {
    super('input', message);
  }
}
