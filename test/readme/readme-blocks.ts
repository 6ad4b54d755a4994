import { spawnSync } from 'node:child_process';

/**
 * The README's shell examples as the README test runs them. The convention (also in the
 * README's "Contributing" note):
 *
 * - A fenced block whose info string starts with `sh`, `bash` or `shell` is run, in document
 *   order, in one bash session, from a copy of the repository on a fresh embedded start.
 *   Anything else is shown and never run: `console` for commands that need what a fresh
 *   clone does not have (Docker, PostgreSQL, another deployment, a foreground server), with
 *   `$ ` prompts, and `text`, `json`, `yaml`, ... for the rest.
 * - Output is shown as comment lines starting with `# => `, right after the command. They
 *   are compared with what the lines above them printed, from the previous blank or comment
 *   line down (stdout and stderr together, as a terminal shows them). In them `...` stands for
 *   any text, and policy versions, UUIDs, timestamps and tokens are masked on both sides.
 * - A command whose output is not shown must exit 0 and print no error body.
 * - Blank and comment lines split a block into the pieces compared, so they cannot sit inside
 *   one command (a multi-line `-d '...'` included): each piece must parse on its own.
 */
export const RUNNABLE = /^(sh|bash|shell)\b/;
const OUTPUT = /^# =>(?: (.*))?$/;

export interface Chunk {
  /** 1-based line of the README where the chunk's code starts. */
  line: number;
  code: string;
  /** The `# => ` lines after it, without the marker; undefined when none are shown. */
  expected?: string;
}

export interface ParseProblem {
  line: number;
  message: string;
}

/** The runnable chunks of a Markdown document, in order, and what is wrong with their shape. */
export function runnableChunks(markdown: string): { chunks: Chunk[]; problems: ParseProblem[] } {
  const lines = markdown.split('\n');
  const chunks: Chunk[] = [];
  const problems: ParseProblem[] = [];
  let fence: { runnable: boolean } | null = null;
  let current: { line: number; code: string[]; expected?: string[] } | null = null;
  const close = () => {
    if (current) chunks.push({ line: current.line, code: current.code.join('\n'), ...(current.expected ? { expected: current.expected.join('\n') } : {}) });
    current = null;
  };
  lines.forEach((text, index) => {
    const line = index + 1;
    const marker = /^```(.*)$/.exec(text);
    if (marker) {
      if (fence) {
        close();
        fence = null;
      } else {
        fence = { runnable: RUNNABLE.test(marker[1]!.trim()) };
      }
      return;
    }
    if (!fence?.runnable) return;
    const output = OUTPUT.exec(text);
    if (output) {
      if (!current) problems.push({ line, message: 'an output line (# =>) with no command right above it' });
      else (current.expected ??= []).push(output[1] ?? '');
      return;
    }
    if (text.trim() === '' || /^\s*#/.test(text)) {
      close();
      return;
    }
    if (current?.expected) close();
    current ??= { line, code: [] };
    current.code.push(text);
  });
  if (fence) problems.push({ line: lines.length, message: 'a fenced block is not closed' });
  for (const chunk of chunks) {
    const syntax = spawnSync('bash', ['-n', '-c', chunk.code], { encoding: 'utf8' });
    if (syntax.status !== 0 || /\\$/.test(chunk.code)) {
      problems.push({
        line: chunk.line,
        message: `not a complete command on its own (${syntax.stderr.trim() || 'ends with a line continuation'}): keep a command's lines together, with no blank or comment line inside it`,
      });
    }
  }
  return { chunks, problems };
}

/** What differs from run to run, masked alike in what was printed and what the README shows. */
export function mask(text: string): string {
  return text
    .replace(/\beyJ[\w-]+(?:\.[\w-]+){0,2}/g, 'eyJ...')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b/g, '<time>')
    .replace(/("(?:version|currentVersion|minVersion)": ?")\d+"/g, '$1<n>"')
    .replace(/\bversion \d+\b/g, 'version <n>')
    .replace(/\betag: "[^"]*"/gi, 'etag: "<etag>"');
}

const tidy = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/^\n+|\n+$/g, '');

/** Whether the printed output is what the README shows: masked, `...` matching any text. */
export function matches(actual: string, expected: string): boolean {
  const pattern = tidy(mask(expected))
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(tidy(mask(actual)));
}

/** A command whose output is not shown must not have failed. */
export function silentFailure(output: string, exitCode: number): string | undefined {
  if (exitCode !== 0) return `exited with ${exitCode}`;
  if (/"error":\s*\{/.test(output)) return 'printed an error body';
  return undefined;
}

export { tidy as tidyOutput };
