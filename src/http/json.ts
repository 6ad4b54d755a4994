import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidRequestError, PayloadTooLargeError } from '../errors.js';

/**
 * Reads and parses a JSON body without express, calling back exactly once with the body
 * or the error. Callbacks rather than a promise: on the check path the answer can then be
 * written in the same tick the body ends, with no promise allocated or microtask queued.
 */
export function onJsonBody(req: IncomingMessage, limitBytes: number, onBody: (body: unknown) => void, onError: (error: unknown) => void): void {
  let settled = false;
  const fail = (error: unknown) => {
    if (settled) return;
    settled = true;
    onError(error);
  };
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) {
    req.resume();
    fail(new PayloadTooLargeError(`request body is larger than ${limitBytes} bytes`));
    return;
  }
  // Most bodies arrive in one chunk: keep it as is and concatenate only when there are more.
  let first: Buffer | undefined;
  let more: Buffer[] | undefined;
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > limitBytes) {
      fail(new PayloadTooLargeError(`request body is larger than ${limitBytes} bytes`));
      return;
    }
    if (first === undefined) first = chunk;
    else (more ??= [first]).push(chunk);
  });
  req.on('end', () => {
    if (settled) return;
    const text = more ? Buffer.concat(more).toString('utf8') : first ? first.toString('utf8') : '';
    if (text.length === 0) {
      fail(new InvalidRequestError('the body must be a JSON object'));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      fail(new InvalidRequestError('the body is not valid JSON'));
      return;
    }
    settled = true;
    onBody(body);
  });
  req.on('error', fail);
}

/**
 * Every JSON answer ends with a newline: `curl` output then ends its line instead of running
 * into the shell's prompt, and line-oriented tools (jq's slurp aside) see one answer a line.
 */
export const jsonText = (body: unknown): string => `${JSON.stringify(body)}\n`;

/**
 * Headers go to writeHead in one object and nothing is set on the response before: that
 * is node's fast path, which stores them as given instead of through setHeader one by one.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders?: Record<string, string>): void {
  const text = jsonText(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  res.writeHead(status, headers);
  res.end(text);
}
