import { describe, expect, it } from 'vitest';
import { baseUrl, consoleLink } from '../../src/console/link-cli.js';

describe('console sign-in link', () => {
  it('prints a link whose fragment carries the token, the company and the name to open it with', () => {
    expect(baseUrl({ PUBLIC_URL: undefined, HOST: '127.0.0.1', PORT: 8080 })).toBe('http://127.0.0.1:8080');
    expect(baseUrl({ PUBLIC_URL: 'https://authz.example.com', HOST: '0.0.0.0', PORT: 8080 })).toBe('https://authz.example.com');
    expect(consoleLink('http://127.0.0.1:8080', 'a.b.c', 'acme', 'Acme Corp')).toBe('http://127.0.0.1:8080/console/#token=a.b.c&company=acme&create=Acme+Corp');
    expect(consoleLink('http://127.0.0.1:8080/', 'a.b.c')).toBe('http://127.0.0.1:8080/console/#token=a.b.c');
  });
});
