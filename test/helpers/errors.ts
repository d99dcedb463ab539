import { expect } from 'vitest';

type Body = { errors?: readonly { extensions?: Record<string, unknown> }[] };

/** The extensions (code, field, reason, …) of a response's first error. */
export const errorOf = (body: Body) => body.errors?.[0]?.extensions;

/** The taxonomy code of a response's first error (undefined when it succeeded). */
export const errorCode = (body: Body) => errorOf(body)?.code as string | undefined;

/**
 * Sends each case in turn and expects its first error's extensions to include
 * the given ones: one table for deny paths (case = the caller) or bad input
 * (case = the fields to change).
 */
export async function expectErrors<C>(send: (input: C) => Promise<{ body: Body }>, cases: ReadonlyArray<readonly [C, Record<string, unknown>]>) {
  for (const [index, [input, expected]] of cases.entries()) {
    const { body } = await send(input);
    expect(errorOf(body), `case ${index}: ${JSON.stringify(expected)}`).toMatchObject(expected);
  }
}
