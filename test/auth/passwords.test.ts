import { describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, parsePasswordHash, PASSWORD_MIN_LENGTH, verifyPassword } from '../../src/auth/passwords.js';

describe('passwords', () => {
  it('asks for at least 12 characters', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(12);
  });

  it('hashes with scrypt, a fresh salt and its parameters in the string', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')]);
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(needsRehash(a)).toBe(false);
  });

  it('verifies the right password and nothing else', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('treats composed and decomposed Unicode alike', async () => {
    const stored = await hashPassword('caf\u00e9-au-lait-1234');
    expect(await verifyPassword('cafe\u0301-au-lait-1234', stored)).toBe(true);
  });

  it('reads the parameters back from the hash, so they can change later', async () => {
    const stored = await hashPassword('correct horse battery');
    const older = stored.replace('ln=15', 'ln=14');
    // Same salt and key, other cost: no longer matches, and would be upgraded.
    expect(await verifyPassword('correct horse battery', older)).toBe(false);
    expect(needsRehash(older)).toBe(true);
    expect(parsePasswordHash(older)).toMatchObject({ logN: 14, r: 8, p: 1 });
  });

  it('never matches a malformed or out-of-bounds hash', async () => {
    const stored = await hashPassword('correct horse battery');
    for (const bad of ['', 'plain-text-password', stored.replace('ln=15', 'ln=30'), stored.replace('p=1', 'p=99'), stored.replace('$scrypt$', '$argon2id$'), `${stored}$extra`]) {
      expect(parsePasswordHash(bad)).toBeNull();
      expect(await verifyPassword('correct horse battery', bad)).toBe(false);
      expect(needsRehash(bad)).toBe(true);
    }
  });
});
