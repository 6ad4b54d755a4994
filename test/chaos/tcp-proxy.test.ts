import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { respFrameEnd, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { servicesUp, TEST_REDIS_URL, uniqueName } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RESP framing', () => {
  it('finds the end of each frame type, and -1 while a frame is incomplete', () => {
    const frames = ['+OK\r\n', '-ERR x\r\n', ':12\r\n', '$-1\r\n', '$3\r\nabc\r\n', '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nacme \r\n', '*-1\r\n', '*0\r\n'];
    for (const frame of frames) {
      const buffer = Buffer.from(frame);
      expect(respFrameEnd(buffer, 0)).toBe(buffer.length);
      for (let cut = 1; cut < buffer.length; cut++) expect(respFrameEnd(buffer.subarray(0, cut), 0)).toBe(-1);
    }
    const two = Buffer.from('$3\r\nabc\r\n:1\r\n');
    expect(respFrameEnd(two, 9)).toBe(two.length);
  });
});

describe.skipIf(!servicesUp)('TCP proxy faults on Redis', () => {
  const opened: Array<{ disconnect(): void }> = [];
  let proxy: TcpProxy;
  afterAll(async () => {
    for (const client of opened) client.disconnect();
    await proxy?.close();
  });

  it('drops pub/sub messages whole while on, keeps the connection and the replies, and passes them again when healed', async () => {
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port), { resp: true });
    const channel = uniqueName('chan');
    const subscriber = new Redis(`redis://127.0.0.1:${proxy.port}`);
    const publisher = new Redis(TEST_REDIS_URL);
    opened.push(subscriber, publisher);
    const received: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => received.push(message));
    await subscriber.subscribe(channel);
    await publisher.publish(channel, 'one');
    await expect.poll(() => received).toEqual(['one']);

    proxy.dropPubSubMessages(true);
    // Large enough to be split across chunks: the filter must keep the framing through them.
    const big = 'x'.repeat(200_000);
    await publisher.publish(channel, big);
    await publisher.publish(channel, 'two');
    await sleep(200);
    expect(received).toEqual(['one']);
    expect(proxy.dropped).toBe(2);

    await proxy.heal();
    await publisher.publish(channel, 'three');
    await expect.poll(() => received).toEqual(['one', 'three']);
  });

  it('stall holds traffic both ways and delivers it when unstalled', async () => {
    const commands = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 1 });
    opened.push(commands);
    expect(await commands.ping()).toBe('PONG');
    proxy.stall();
    let answered: string | undefined;
    const pending = commands.ping().then((answer) => (answered = answer));
    await sleep(300);
    expect(answered).toBeUndefined();
    proxy.unstall();
    await pending;
    expect(answered).toBe('PONG');
  });
});
