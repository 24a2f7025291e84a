/**
 * `npm run bench:http [-- SECONDS]`: the subscription server under load on loopback.
 *
 * Two endpoints, each beside a bare `node:http` server answering a fixed body of the same size
 * in the same run (the baseline: what Node itself costs on this machine):
 * - GET /feed.atom (static file, ETag, compression negotiated off: autocannon asks plain)
 * - POST /subscribe with a distinct address per request (rate limits raised for the run), the
 *   whole path: parsing, normalisation, the store, and the confirmation email queued (the
 *   server's sender mails it to the outbox off the request path).
 * Prints requests/s, p99 latency and the ratios; checks zero errors and that every completed
 * subscription is in the store afterwards: a pending subscriber and a queued confirmation.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import autocannon, { type Result } from 'autocannon';
import { createApp } from '../src/cli/app.ts';
import { createSubscriptionMailer } from '../src/deliver/subscription-mailer.ts';
import { createServer } from '../src/server/create-server.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const seconds = Number(process.argv[2] ?? 10);
const CONNECTIONS = 10;

const ENV = {
  LETTERPRESS_SECRET: 'bench-http-secret-bench-http-secret-0123',
  LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '100000000',
  LETTERPRESS_SERVER_LIMITS_PERADDRESSPERDAY: '1000',
  // The overall cap would otherwise stop storing new subscriptions after 300 in the hour.
  LETTERPRESS_SERVER_LIMITS_CONFIRMATIONSPERHOUR: '100000000',
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A bare node:http server that answers every request with `body`: the baseline. */
async function startBareServer(body: Buffer, contentType: string): Promise<{ url: string; server: Server }> {
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
      response.end(body);
    });
  });
  return { url: await listen(server), server };
}

function run(options: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: seconds, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function describe(result: Result): string {
  const failures = result.errors + result.timeouts + result.non2xx;
  return `${result.requests.average.toFixed(0).padStart(6)} req/s, p99 ${String(result.latency.p99).padStart(3)} ms, ${result.requests.total} requests, ${failures} errors/non-2xx`;
}

async function main(): Promise<void> {
  const root = await createTempProject();
  const app = await createApp({ root, env: ENV });
  try {
    await app.build();
    const store = await app.store();
    const keyring = await app.keyring();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock: app.clock, store });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, logger: false });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

    // Feed: the real server, then the bare one with the same bytes.
    const feed = Buffer.from(await (await fetch(`${url}/feed.atom`)).arrayBuffer());
    const bareFeed = await startBareServer(feed, 'application/atom+xml');
    const feedResult = await run({ url: `${url}/feed.atom` });
    const bareFeedResult = await run({ url: `${bareFeed.url}/feed.atom` });
    bareFeed.server.close();

    // Subscribe: a distinct address per request, form-encoded like the archive's form.
    let sequence = 0;
    const subscribeRequest = () => ({
      method: 'POST' as const,
      path: '/subscribe',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=reader${(sequence += 1)}%40example.org&name=Reader`,
    });
    const sample = await fetch(`${url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=sample%40example.org',
    });
    const answer = Buffer.from(await sample.arrayBuffer());
    const bareSubscribe = await startBareServer(answer, sample.headers.get('content-type') ?? 'text/html');
    const subscribeResult = await run({ url, requests: [{ setupRequest: () => subscribeRequest() }] });
    const accepted = sequence;
    sequence = 0;
    const bareSubscribeResult = await run({ url: bareSubscribe.url, requests: [{ setupRequest: () => subscribeRequest() }] });
    bareSubscribe.server.close();
    await server.close();

    // A completed subscription is stored: the pending subscriber and its queued confirmation
    // (queued, or already sent by the server's own sender), both counted in the store.
    const pending = await store.countSubscribers({ status: 'pending' });
    const confirmations = (await store.listOutgoingMail()).filter((mail) => mail.kind === 'confirmation').length;
    console.log(`duration ${seconds} s per run, ${CONNECTIONS} connections, loopback`);
    console.log(`GET /feed.atom (${feed.length} bytes)`);
    console.log(`  letterpress serve: ${describe(feedResult)}`);
    console.log(`  bare node:http:    ${describe(bareFeedResult)}`);
    console.log(`  ratio req/s ${(feedResult.requests.average / bareFeedResult.requests.average).toFixed(2)}, p99 ${(feedResult.latency.p99 / Math.max(1, bareFeedResult.latency.p99)).toFixed(2)}×`);
    console.log('POST /subscribe (a new address per request; stored, confirmation queued; the server mails it to the outbox meanwhile)');
    console.log(`  letterpress serve: ${describe(subscribeResult)}`);
    console.log(`  bare node:http:    ${describe(bareSubscribeResult)}`);
    console.log(`  ratio req/s ${(subscribeResult.requests.average / bareSubscribeResult.requests.average).toFixed(2)}, p99 ${(subscribeResult.latency.p99 / Math.max(1, bareSubscribeResult.latency.p99)).toFixed(2)}×`);
    // Requests autocannon set up but never completed (the run ended mid-flight) are not counted.
    const completed = subscribeResult.requests.total;
    const stored = Math.min(pending, confirmations);
    console.log(
      `store: ${pending} pending subscribers and ${confirmations} confirmations queued (+1 sample each) for ${completed} completed subscribe requests (${accepted} started): ` +
        (stored >= completed + 1 ? 'every completed subscription stored' : `MISSING ${completed + 1 - stored}`),
    );
    const failures = [feedResult, subscribeResult].reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0);
    if (failures > 0 || stored < completed + 1) process.exitCode = 1;
  } finally {
    await app.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
