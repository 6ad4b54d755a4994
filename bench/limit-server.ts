import { createServer } from 'node:http';

/**
 * The ceiling for any Node check service on this machine: bare node:http that reads the
 * same JSON body, parses it and answers a constant decision of the same shape and size.
 * With WORK_US set it also spins that many microseconds of CPU per request after the
 * parse: a calibration of what any service doing that much work per request reaches here.
 */
const ANSWER = JSON.stringify({ allowed: true, reason: 'role contributor on project p-7 allows edit Scenario', version: '1' });
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(ANSWER) };
const WORK_MS = Number(process.env.WORK_US ?? 0) / 1000;

function work(): void {
  const until = performance.now() + WORK_MS;
  while (performance.now() < until);
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, HEADERS).end(ANSWER);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (WORK_MS > 0) work();
    res.writeHead(200, HEADERS).end(ANSWER);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
