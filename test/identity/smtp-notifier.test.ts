import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, uniqueEmail } from '../helpers/auth.js';

// A local SMTP server stands in for the mail relay (SMTP cannot be reached from here).
const received: Array<{ to: string[]; data: string }> = [];
let smtp: SMTPServer;
let t: TestApp;

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (c) => (data += c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  t = await startTestApp({ env: { NOTIFIER: 'smtp', SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'idgraph <auth@example.com>' } });
});
afterAll(async () => {
  await t.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe('SMTP notifier (NOTIFIER=smtp)', () => {
  it('mails the sign-in code and stores nothing in auth_messages', async () => {
    const email = uniqueEmail('smtp');
    expect((await authClient(t).signInWithOtp({ email })).error).toBeNull();
    await t.app.engine!.settled();
    const mail = received.find((m) => m.to.includes(email));
    expect(mail?.data).toMatch(/Your code is \d{6}/);
    expect(mail?.data).toContain('From: idgraph <auth@example.com>');
    expect(await t.app.db.prisma.authMessage.count()).toBe(0);
  });
});
