import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { PrismaClient } from '../generated/prisma/client.js';

export interface OutgoingMessage {
  channel: 'email' | 'sms';
  to: string;
  /** What the message is for: confirmation, magiclink, recovery, email_change, invite, reauthentication, otp... */
  kind: string;
  subject: string;
  body: string;
}

/** Delivers email and SMS. Injected, so tests and development never reach a real SMTP or SMS service. */
export interface Notifier {
  send(message: OutgoingMessage): Promise<{ messageId: string }>;
}

/**
 * Development sink: keeps every message in auth_messages and prints it on the
 * console (not the log), so a newcomer can read their code. Refused in production by config.
 */
export function createDevNotifier(db: PrismaClient, print: (text: string) => void): Notifier {
  return {
    async send(message) {
      const row = await db.authMessage.create({
        data: { channel: message.channel, recipient: message.to, kind: message.kind, subject: message.subject, body: message.body },
      });
      print(`\n[idgraph dev ${message.channel}] to ${message.to}: ${message.subject}\n${message.body}\n`);
      return { messageId: row.id };
    },
  };
}

/** Email over SMTP (nodemailer). SMS has no provider configured here: phone delivery fails clearly. */
export function createSmtpNotifier(options: { url: string; from: string }): Notifier {
  const transport = nodemailer.createTransport(options.url);
  return {
    async send(message) {
      if (message.channel !== 'email') throw new Error('no SMS provider is configured');
      const info = await transport.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.body });
      return { messageId: info.messageId ?? randomUUID() };
    },
  };
}
