import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { logsInfo } from '../../src/server/server-context.ts';

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

describe('logsInfo', () => {
  it('is true only for a logger that writes info lines', async () => {
    const cases: [logger: boolean | object, expected: boolean][] = [
      [false, false],
      [{ level: 'info', stream: discard() }, true],
      [{ level: 'debug', stream: discard() }, true],
      [{ level: 'warn', stream: discard() }, false],
    ];
    for (const [logger, expected] of cases) {
      const app = Fastify({ logger });
      let seen: boolean | undefined;
      app.get('/', async (request) => {
        seen = logsInfo(request.log);
        return 'ok';
      });
      await app.inject({ url: '/' });
      await app.close();
      expect(seen, JSON.stringify(logger)).toBe(expected);
      expect(logsInfo(app.log), `app.log ${JSON.stringify(logger)}`).toBe(expected);
    }
  });
});
