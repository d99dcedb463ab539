import type http from 'node:http';
import { ProviderError, providerErrors } from '../identity/errors.js';
import { boundedJsonProblem, textProblem } from '../services/input.js';

/**
 * Reads a JSON object body (the transport has already refused bodies over the
 * limit by Content-Length; this also stops a body that grows past it). An empty
 * body is {}; GoTrue reads a JSON null field as "".
 */
export async function readJsonObject(req: http.IncomingMessage, limitBytes: number): Promise<Record<string, unknown>> {
  return checkInput(parseJsonObject(await readText(req, limitBytes)));
}

/**
 * Applies the input rule to everything a client sent the engine, before any
 * of it is read: every string and key, and each object or array value (user
 * metadata, say) within the JSON bounds. validation_failed, as GoTrue answers
 * a field it cannot take.
 */
function checkInput(body: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(body)) {
    const keyProblem = textProblem(key);
    if (keyProblem) throw providerErrors.validation(`A key of the body ${keyProblem}`);
    const problem = boundedJsonProblem(value);
    const name = key.length > 40 ? `${key.slice(0, 40)}…` : key;
    if (problem) throw providerErrors.validation(`${problem.path ? `${name}.${problem.path}` : name}: ${problem.message}`);
  }
  return body;
}

/** The body as text, stopped when it grows past the limit (signed webhooks need the exact bytes). */
export async function readText(req: http.IncomingMessage, limitBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new ProviderError(413, 'request_entity_too_large', 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJsonObject(raw: string): Record<string, unknown> {
  const text = raw.trim();
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ProviderError(400, 'bad_json', `Could not parse request body as JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProviderError(400, 'bad_json', 'Could not parse request body as JSON: expected an object');
  }
  return parsed as Record<string, unknown>;
}
