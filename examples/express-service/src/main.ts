import { createCastellanClient } from '@castellan/client';
import { createApp } from './app.js';

const castellan = createCastellanClient({
  baseUrl: process.env.CASTELLAN_URL ?? 'http://127.0.0.1:8080',
  ...(process.env.CHECK_TOKEN ? { checkToken: process.env.CHECK_TOKEN } : {}),
});
const store = {
  scenarios: new Map([['s-1', { id: 's-1', projectId: 'p-7', name: 'Base case' }]]),
  projects: [{ id: 'p-7', name: 'Bridge' }],
  branding: new Map<string, { color: string }>(),
};
const port = Number(process.env.PORT ?? 3000);
createApp(castellan, store, (line) => console.log(JSON.stringify(line))).listen(port, '127.0.0.1', () => console.log(`example service on http://127.0.0.1:${port}`));
