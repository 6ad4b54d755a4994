import type { TokenClaims } from './tokens.js';

/** How far the emails in external tokens are trusted. */
export interface EmailTrust {
  /** The identity provider verifies every address it puts in a token, so `email_verified` need not say so. */
  allEmailsVerified: boolean;
}

/**
 * Whether a token's email proves its holder receives mail there: only an issuer's
 * `email_verified: true` does (a string "true" or a 1 do not), unless the identity provider
 * is declared to verify every address. Castellan's own tokens carry no email.
 */
export function emailIsVerified(claims: TokenClaims, trust: EmailTrust): boolean {
  return claims.email !== undefined && (claims.emailVerified === true || trust.allEmailsVerified);
}

const ASCII_UPPER = /[A-Z]/g;
/** Lowercases A-Z only: JavaScript's toLowerCase folds look-alikes such as U+212A KELVIN SIGN into "k". */
export const asciiLowerCase = (text: string): string => text.replace(ASCII_UPPER, (c) => c.toLowerCase());

/** The domain of an email address, ASCII-lowercased; null when there is none or it is not plain ASCII. */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@');
  const domain = at < 0 ? '' : email.slice(at + 1);
  if (domain === '' || !/^[\x21-\x7e]+$/.test(domain)) return null;
  return asciiLowerCase(domain);
}
