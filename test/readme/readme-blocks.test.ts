import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mask, matches, runnableChunks } from './readme-blocks.js';
import { runChunks, stopEverything } from './run-readme.js';

/** The README test's own machinery: which lines run, what they are compared with, and that a broken example fails. */
const doc = (...lines: string[]) => lines.join('\n');

describe('runnableChunks', () => {
  it('takes sh, bash and shell blocks, leaves the rest, and splits them at blank and comment lines', () => {
    const { chunks, problems } = runnableChunks(
      doc(
        'Some text.',
        '```sh',
        'A=1   # a trailing comment is part of the command',
        'echo "$A" \\',
        '  two',
        '# => 1 two',
        'echo three',
        '# => three',
        '# => and a second line',
        '',
        '# a comment starts a new piece',
        'echo four',
        '```',
        '```console',
        '$ docker run castellan',
        '```',
        '```bash',
        'echo five',
        '```',
        '```text',
        'echo never',
        '```',
      ),
    );
    expect(problems).toEqual([]);
    expect(chunks).toEqual([
      { line: 3, code: 'A=1   # a trailing comment is part of the command\necho "$A" \\\n  two', expected: '1 two' },
      { line: 7, code: 'echo three', expected: 'three\nand a second line' },
      { line: 12, code: 'echo four' },
      { line: 18, code: 'echo five' },
    ]);
  });

  it('refuses a command cut by a blank or comment line, and output with no command above it', () => {
    const { problems } = runnableChunks(doc('```sh', "curl -d '{", '', "  \"a\": 1}'", '```', '```sh', '# => orphan', '```'));
    expect(problems).toEqual([
      { line: 7, message: 'an output line (# =>) with no command right above it' },
      { line: 2, message: expect.stringMatching(/^not a complete command on its own \(.*unexpected EOF.*\): keep a command's lines together/) },
      { line: 4, message: expect.stringMatching(/^not a complete command on its own/) },
    ]);
  });
});

describe('matches', () => {
  it('masks versions, UUIDs, timestamps, tokens and ETags on both sides, and reads ... as any text', () => {
    expect(mask('{"userId":"local:3b24c231-fb53-49bc-bc48-eeaf1029b024","at":"2026-11-30T14:32:10.193Z","version":"25"}')).toBe(
      '{"userId":"local:<uuid>","at":"<time>","version":"<n>"}',
    );
    expect(mask('{"accessToken":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln","next_token":"eyJiIjoi"} etag: "abc"')).toBe(
      '{"accessToken":"eyJ...","next_token":"eyJ..."} etag: "<etag>"',
    );
    expect(matches('{"allowed":true,"version":"25"}\n', '{"allowed":true,"version":"18"}')).toBe(true);
    expect(matches('Loaded (version 26):\n  line one\n  line two', 'Loaded (version 3):\n...')).toBe(true);
    expect(matches('{"userId":"invite:3b24c231-fb53-49bc-bc48-eeaf1029b024"}', '{"userId":"invite:..."}')).toBe(true);
  });

  it('fails on a changed decision, reason or field, and on output the README does not show', () => {
    expect(matches('{"allowed":false,"reason":"no rule allows delete Scenario","version":"7"}', '{"allowed":true,"reason":"no rule allows delete Scenario","version":"7"}')).toBe(false);
    expect(matches('{"allowed":true,"reason":"role viewer on project bridge allows view Scenario"}', '{"allowed":true,"reason":"role contributor on project bridge allows view Scenario"}')).toBe(false);
    expect(matches('{"a":1}\n{"error":{"code":"not_found"}}', '{"a":1}')).toBe(false);
    expect(matches('', '{"a":1}')).toBe(false);
  });
});

describe('runChunks', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'castellan-readme-blocks-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('runs the pieces in one session and reports each that printed something else, failed silently or hung', { timeout: 60_000 }, async () => {
    const { chunks } = runnableChunks(
      doc(
        '```sh',
        'X=kept; echo "port :8080"',
        '# => port :8080',
        'echo "$X"',
        '# => changed',
        'false',
        '',
        'curl -s localhost:1/nothing || echo \'{"error":{"code":"unavailable"}}\'',
        '',
        'echo fine',
        '# => fine',
        'sleep 30',
        '',
        'echo never',
        '```',
      ),
    );
    const run = runChunks(chunks, { cwd, env: { PATH: process.env.PATH ?? '' }, port: 4321, chunkTimeoutMs: 3000 });
    const results = await run.results;
    await stopEverything(run.pgid, []);
    expect(results.map((r) => [r.chunk.line, r.failure ?? 'ok', r.output])).toEqual([
      [2, 'ok', 'port :8080'],
      [4, 'printed something else than the README shows', 'kept'],
      [6, 'exited with 1', ''],
      [8, 'printed an error body', '{"error":{"code":"unavailable"}}'],
      [10, 'ok', 'fine'],
      [12, 'it did not finish in 3 s; printed so far:\n', ''],
      [14, 'not run: an earlier block did not finish', ''],
    ]);
  });
});
