import { z } from 'zod';

/**
 * Control characters (C0, DEL, C1) and lone surrogates. PostgreSQL refuses NUL in text, and
 * none of them belongs in an email, a login or a name; a lone surrogate would be stored as
 * U+FFFD, so not as sent.
 */
const CONTROL_OR_BROKEN = /[\p{Cc}\p{Cs}]/u;

/**
 * What a name must not hide: besides the above, format characters (bidirectional overrides,
 * isolates and marks, zero-width spaces and joiners, the BOM), which make one name look like
 * another or reorder what is shown around it, and line or paragraph separators.
 */
const HIDDEN_OR_CONTROL = /[\p{Cc}\p{Cs}\p{Cf}\p{Zl}\p{Zp}]/u;

export const hasControlCharacters = (text: string): boolean => CONTROL_OR_BROKEN.test(text);

export const NO_CONTROL_CHARACTERS = 'must not contain control characters';

/** A name people read (company, team, person, role, project, plan): trimmed, 1 to `max` characters, nothing hidden. */
export function displayName(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => !HIDDEN_OR_CONTROL.test(text), 'must not contain control characters, line separators or invisible formatting characters (bidirectional controls, zero-width characters)');
}
