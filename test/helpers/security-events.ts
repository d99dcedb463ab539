import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import * as OTPAuth from 'otpauth';
import { expect } from 'vitest';
import type { TestApp } from './app.js';
import { signIn, type SignedIn } from './realm.js';
import { subscribeWs, type Subscription, waitUntil, wsClient } from './subscriptions.js';

export const SECURITY = `subscription ($after: String) { viewerSecurityEvents(after: $after) { cursor id type byViewer ip } }`;

export interface SecurityItem {
  cursor: string;
  id: string;
  type: string;
  byViewer: boolean;
  ip: string | null;
}

/** A GraphQL operation over real HTTP, so the request has a client address as in production. */
export async function overHttp<R, V extends Record<string, unknown>>(t: TestApp, document: TypedDocumentNode<R, V>, variables: V, accessToken: string) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: R; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data!;
}

/** The TOTP code of a base32 secret, `offsetSeconds` from now (another 30-second step for a second use). */
export const totpCode = (secret: string, offsetSeconds = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSeconds * 1000,
  });

/**
 * Users' viewerSecurityEvents streams on one app, and a bystander's, which must never carry another user's events.
 * `dispose` after each test ends the streams it opened.
 */
export async function securityWatch(t: TestApp, bystander: SignedIn) {
  const clients: Client[] = [];
  const open = (accessToken: string) => {
    const client = wsClient(t, `Bearer ${accessToken}`);
    clients.push(client);
    return subscribeWs<SecurityItem>(client, SECURITY, { after: '0' }, 'viewerSecurityEvents');
  };
  const bystanderClient = wsClient(t, `Bearer ${bystander.accessToken}`);
  const bystanderStream = subscribeWs<SecurityItem>(bystanderClient, SECURITY, { after: '0' }, 'viewerSecurityEvents');

  return {
    /** The user's own stream from their first event, on a session of its own (the watching device). */
    async watch(user: SignedIn): Promise<Subscription<SecurityItem>> {
      const stream = open((await signIn(t, user)).accessToken);
      await stream.waitForItems(1);
      return stream;
    },

    /**
     * The one event of `type` (and `payload`) on the user's aggregate, with its actor; the user's stream delivers it
     * once (byViewer and the address only for what they did themself), the bystander's does not, and no secret
     * appears in any of the user's events.
     */
    async expectRecordedOnce(
      user: { userId: string },
      stream: Subscription<SecurityItem>,
      type: string,
      { actor, secrets, payload = {} }: { actor: 'user' | 'admin'; secrets: string[]; payload?: Record<string, unknown> },
    ) {
      const rows = await t.app.db.prisma.event.findMany({ where: { aggregateType: 'user', aggregateId: user.userId, type } });
      const matching = rows.filter((row) => Object.entries(payload).every(([key, value]) => (row.payload as Record<string, unknown>)[key] === value));
      expect(matching, JSON.stringify(rows.map((r) => r.payload))).toHaveLength(1);
      const [event] = matching;
      expect(event!.metadata).toMatchObject({ actorId: actor === 'user' ? user.userId : null });

      await waitUntil(() => stream.items.some((i) => i.id === event!.id) || stream.isEnded(), () => `${type} on the user's stream`);
      const delivered = stream.items.filter((i) => i.id === event!.id);
      expect(delivered, `${type} delivered: ${JSON.stringify(stream.errors)}`).toHaveLength(1);
      expect(delivered[0]).toMatchObject({ type, byViewer: actor === 'user', ip: actor === 'user' ? expect.stringMatching(/127\.0\.0\.1/) : null });

      // The bystander's stream has read past this event once a later event of its own arrives.
      const before = bystanderStream.items.length;
      await t.app.services.mirror.recordSecurityEvent({ userId: bystander.userId, actorId: null, what: { action: 'password_changed' } });
      await bystanderStream.waitForItems(before + 1);
      expect(bystanderStream.items.some((i) => i.id === event!.id)).toBe(false);

      const everything = await t.app.db.prisma.event.findMany({ where: { aggregateId: user.userId } });
      const text = JSON.stringify(everything.map((e) => [e.payload, e.metadata]));
      for (const secret of secrets.filter(Boolean)) expect(text).not.toContain(secret);
    },

    async dispose() {
      await Promise.all(clients.splice(0).map((c) => c.dispose()));
    },
    async close() {
      await Promise.all([...clients.splice(0), bystanderClient].map((c) => c.dispose()));
    },
  };
}
