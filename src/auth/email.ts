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
