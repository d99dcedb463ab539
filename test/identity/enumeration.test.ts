import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notifier, OutgoingMessage } from '../../src/identity/notifier.js';
import { RequestPasswordRecoveryDocument, SendMagicLinkDocument, SendOtpDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, uniqueEmail } from '../helpers/auth.js';

// What a caller sees must not say whether an address has an account: neither the
// answer (status, body), nor a limit only an account can reach, nor how long it takes
// (the lookup and the message come after the answer; checked by holding the notifier).

const sent: OutgoingMessage[] = [];
let held: { promise: Promise<void>; release: () => void } | null = null;
const notifier: Notifier = {
  async send(message) {
    if (held) await held.promise;
    sent.push(message);
    return { messageId: randomUUID() };
  },
};
function hold() {
  let release = () => {};
  const promise = new Promise<void>((resolve) => (release = resolve));
  held = { promise, release: () => ((held = null), release()) };
  return held;
}

let t: TestApp;
beforeAll(async () => {
  // Sign-ups need confirming, and a second code to one address within a minute is not sent.
  t = await startTestApp({ env: { AUTH_AUTOCONFIRM: 'false', AUTH_MAX_FREQUENCY: '60' }, notifier });
});
afterAll(async () => {
  held?.release();
  await t.close();
});

async function post(path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.url}/auth/v1${path}`, {
    method: 'POST',
    headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}

async function existingEmail(confirmed = true) {
  const email = uniqueEmail('known');
  const { error } = await adminClient(t).createUser({ email, password: 'correct-horse-1', email_confirm: confirmed });
  if (error) throw error;
  return email;
}

const messagesTo = async (to: string) => {
  await t.app.engine!.settled();
  return sent.filter((m) => m.to === to).length;
};

describe('answers that would tell whether an address has an account', () => {
  it('/recover: the same answer for a known and an unknown address, also when repeated within AUTH_MAX_FREQUENCY', async () => {
    const known = await existingEmail();
    const unknown = uniqueEmail('ghost');
    const answers = [];
    for (const email of [known, unknown]) answers.push([await post('/recover', { email }), await post('/recover', { email })]);
    expect(answers[0]).toEqual([{ status: 200, body: '{}' }, { status: 200, body: '{}' }]);
    expect(answers[1]).toEqual(answers[0]);
    // The account got one message: the repeat within the window sent nothing.
    expect(await messagesTo(known)).toBe(1);
    expect(await messagesTo(unknown)).toBe(0);
  });

  it('/otp with create_user:false: the same answer for a known and an unknown address, and no account is created', async () => {
    const known = await existingEmail();
    const unknown = uniqueEmail('ghost');
    const answers = [];
    for (const email of [known, unknown]) answers.push([await post('/otp', { email, create_user: false }), await post('/otp', { email, create_user: false })]);
    expect(answers[0]).toEqual([{ status: 200, body: '{}' }, { status: 200, body: '{}' }]);
    expect(answers[1]).toEqual(answers[0]);
    expect(await messagesTo(known)).toBe(1);
    expect(await messagesTo(unknown)).toBe(0);
    expect(await t.app.db.prisma.authUser.count({ where: { email: unknown } })).toBe(0);
  });

  it('/otp by phone with create_user:false: the same shape for a known and an unknown number', async () => {
    const known = `+1555${String(Date.now()).slice(-7)}`;
    const { error } = await adminClient(t).createUser({ phone: known, phone_confirm: true });
    expect(error).toBeNull();
    const unknown = `+1666${String(Date.now()).slice(-7)}`;
    const [a, b] = [await post('/otp', { phone: known, create_user: false }), await post('/otp', { phone: unknown, create_user: false })];
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(Object.keys(JSON.parse(a.body) as object)).toEqual(['message_id']);
    expect(Object.keys(JSON.parse(b.body) as object)).toEqual(['message_id']);
  });

  it('/magiclink and /resend: the same answers for known, unconfirmed and unknown addresses, also when repeated', async () => {
    const known = await existingEmail();
    const unconfirmed = await existingEmail(false);
    const unknown = uniqueEmail('ghost');
    for (const [path, body] of [
      ['/magiclink', {}],
      ['/resend', { type: 'signup' }],
    ] as const) {
      const answers = [];
      for (const email of [known, unconfirmed, unknown]) answers.push([await post(path, { ...body, email }), await post(path, { ...body, email })]);
      expect(answers[0]).toEqual([{ status: 200, body: '{}' }, { status: 200, body: '{}' }]);
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    }
  });

  it('GraphQL sendOtp (createUser false), sendMagicLink and requestPasswordRecovery answer the same for known and unknown addresses', async () => {
    const known = await existingEmail();
    const unknown = uniqueEmail('ghost');
    const answers = [];
    for (const email of [known, unknown]) {
      const otp = await t.execute(SendOtpDocument, { input: { email, createUser: false } });
      const link = await t.execute(SendMagicLinkDocument, { input: { email } });
      const recovery = await t.execute(RequestPasswordRecoveryDocument, { input: { email } });
      const again = await t.execute(RequestPasswordRecoveryDocument, { input: { email } });
      answers.push([otp, link, recovery, again].map((r) => ({ status: r.status, body: r.body })));
    }
    expect(answers[0]!.map((a) => a.body.errors)).toEqual([undefined, undefined, undefined, undefined]);
    expect(answers[1]).toEqual(answers[0]);
  });

  it('requests at once for one address send one message: the send time is claimed atomically', async () => {
    const known = await existingEmail();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post('/otp', { email: known })));
    expect(new Set(answers.map((a) => `${a.status} ${a.body}`))).toEqual(new Set(['200 {}']));
    expect(await messagesTo(known)).toBe(1);
  });

  it('the answer does not wait for the lookup or the message: it arrives while the message is still being sent', async () => {
    const known = await existingEmail();
    const unknown = uniqueEmail('ghost');
    const gate = hold();
    try {
      // With the notifier held, an answer that waited for the message would never come.
      const [forKnown, forUnknown] = [await post('/recover', { email: known }), await post('/recover', { email: unknown })];
      expect(forKnown).toEqual(forUnknown);
      expect(sent.filter((m) => m.to === known)).toHaveLength(0);
    } finally {
      gate.release();
    }
    expect(await messagesTo(known)).toBe(1);
  }, 20_000);
});
