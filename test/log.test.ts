import { describe, expect, it } from 'vitest';
import { createLogger, requestScope } from '../src/log.js';
import { captureLogs } from './helpers/app.js';

describe('logger', () => {
  it('censors credentials wherever they sit in a log object', () => {
    const { logs, stream } = captureLogs();
    const log = createLogger({ level: 'info', destination: stream });
    log.info(
      {
        req: { headers: { authorization: 'Bearer eyJhbGciOi.secret', cookie: 'sb=1', 'user-agent': 'curl' } },
        input: { email: 'a@example.com', password: 'hunter2', token: '123456', refresh_token: 'rt-1' },
        apiKey: 'idg_live.abc',
        otp: '424242',
      },
      'request',
    );
    const text = logs.text();
    for (const secret of ['eyJhbGciOi.secret', 'sb=1', 'hunter2', '123456', 'rt-1', 'idg_live.abc', '424242']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('a@example.com');
    expect(text).toContain('curl');
    expect(logs.lines[0]!.input).toMatchObject({ password: '[redacted]' });
  });

  it('stamps every line written inside a request with its id', async () => {
    const { logs, stream } = captureLogs();
    const log = createLogger({ level: 'info', destination: stream });
    await requestScope.run({ requestId: 'req-42' }, async () => {
      log.info('first');
      await new Promise((r) => setTimeout(r, 1));
      log.child({ component: 'x' }).warn('second');
    });
    log.info('outside');
    expect(logs.lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['first', 'req-42'],
      ['second', 'req-42'],
      ['outside', undefined],
    ]);
  });
});
