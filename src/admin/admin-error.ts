/**
 * @module admin-error
 * The one error an operator's operation throws for bad input or a missing entry, so that each
 * face answers it its own way: the CLI with one line and a sysexits(3) code (65 invalid,
 * 67 not found), the admin API with 400 or 404 and the same sentence.
 * Standards: sysexits(3); RFC 9110 §15.5.1, §15.5.5.
 * Security: messages name the operator's own input, never stored secrets.
 * Limitations: none.
 */
export type AdminErrorKind = 'invalid' | 'not-found';

export class AdminError extends Error {
  readonly kind: AdminErrorKind;
  constructor(message: string, kind: AdminErrorKind = 'invalid') {
    super(message);
    this.name = 'AdminError';
    this.kind = kind;
  }
}
