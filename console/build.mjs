// Assembles dist/console-app/ from tsc's staging output and console/static/. Run by npm run build.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const staging = join(root, 'dist/.console-build');
const compiled = join(staging, 'console/src');
const out = join(root, 'dist/console-app');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(root, 'console/static'), out, { recursive: true });
cpSync(compiled, out, { recursive: true });
rmSync(staging, { recursive: true, force: true });

// The console imports the server's schemas for their types only: a value import would reach
// for a file the browser cannot load. Fail the build rather than ship a broken page.
const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
for (const file of files(out).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(file, 'utf8');
  const outside = [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]).filter((s) => !s.startsWith('./') && !s.startsWith('../'));
  const escapes = [...text.matchAll(/from\s*['"](\.\.\/\.\.\/[^'"]*)['"]/g)].map((m) => m[1]);
  if (outside.length || escapes.length) {
    console.error(`console build: ${file} imports ${[...outside, ...escapes].join(', ')}, which the browser cannot load`);
    process.exit(1);
  }
}
// Every module announced up front: the browser fetches them in parallel instead of
// discovering them import by import.
const modules = files(out).filter((f) => f.endsWith('.js')).map((f) => f.slice(out.length + 1).split('\\').join('/')).sort();
const index = join(out, 'index.html');
const preload = modules.map((m) => `<link rel="modulepreload" href="${m}">`).join('\n');
writeFileSync(index, readFileSync(index, 'utf8').replace('<!-- modulepreload -->', preload));
if (!existsSync(join(out, 'main.js'))) {
  console.error('console build: main.js is missing');
  process.exit(1);
}
