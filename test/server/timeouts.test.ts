import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeWithin } from '../../src/cli/server-commands.ts';
import { sendHalfRequest } from '../helpers/half-sent-request.ts';
import { startServer, type ServerFixture } from './server-fixture.ts';

let fixture: ServerFixture | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await fixture?.close();
  fixture = undefined;
});

async function halfSentRequest(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
  const sent = await sendHalfRequest(`http://127.0.0.1:${port}/`);
  sockets.push(sent.socket);
  return sent;
}

async function listen(env: Record<string, string>): Promise<number> {
  fixture = await startServer({ env });
  await fixture.server.listen({ port: 0, host: '127.0.0.1' });
  return (fixture.server.server.address() as AddressInfo).port;
}

describe('slow clients', () => {
  it('closes a connection whose request stops halfway once server.requestTimeoutMs has passed', async () => {
    const port = await listen({ LETTERPRESS_SERVER_REQUESTTIMEOUTMS: '1000' });
    expect(fixture!.server.server.requestTimeout).toBe(1000);
    expect(fixture!.server.server.headersTimeout).toBe(1000);
    expect(fixture!.server.server.timeout).toBe(1000);
    const { closed } = await halfSentRequest(port);
    // The client does nothing more: the server ends it (408 or a closed socket), not the test.
    const received = await closed;
    expect(received === '' || received.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('sets every timeout from the config by default', async () => {
    await listen({});
    const http = fixture!.server.server;
    expect(http.requestTimeout).toBe(30_000);
    expect(http.headersTimeout).toBe(30_000);
    expect(http.timeout).toBe(30_000);
    expect(http.keepAliveTimeout).toBe(5_000);
    expect(fixture!.app.loaded.config.server.shutdownTimeoutSeconds).toBe(10);
  });

  it('at shutdown cuts a connection still open after the timeout, and closes', async () => {
    const port = await listen({});
    const { closed } = await halfSentRequest(port);
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(healthy.status).toBe(200);
    // The request timeout (30 s) is far off: only the shutdown timeout can end this.
    await closeWithin(fixture!.server, 300);
    await closed;
    expect(fixture!.server.server.listening).toBe(false);
  });
});
