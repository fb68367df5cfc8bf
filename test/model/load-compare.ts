// What the loader tests share: two loads compared whole, and the full parser's warnings muted.
import { afterAll, beforeAll, expect, vi } from 'vitest';
import type { ModelLoad } from '../../src/model/load.js';

/** The full parser warns (process.emitWarning) about odd keys some random edits produce: muted for the file's tests. */
export function muteParserWarnings(): void {
  beforeAll(() => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });
}

/** The same load, compared whole (toStrictEqual ignores key order; JSON keeps it: it decides the order of services, routes' headers, ...). */
export function expectSameLoad(got: ModelLoad, want: ModelLoad, what: string): void {
  expect(got, what).toStrictEqual(want);
  expect(JSON.stringify(got), what).toBe(JSON.stringify(want));
}
