import type { z } from 'zod';

type Path = readonly (string | number)[];

/** The keys to leave out for an issue: an unknown key itself, else the key at fault (a list with a bad entry, whole). */
function keysAtFault(issue: z.ZodIssue): Path[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => [...issue.path, key]);
  const index = issue.path.findIndex((part) => typeof part === 'number');
  return [index === -1 ? issue.path : issue.path.slice(0, index)];
}

const samePath = (a: Path, b: Path) => a.length === b.length && a.every((part, i) => part === b[i]);

function leaveOut(root: Record<string, unknown>, path: Path): void {
  let parent: unknown = root;
  for (const part of path.slice(0, -1)) parent = parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[part] : undefined;
  if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[path[path.length - 1]];
}

/**
 * A copy of the mappings and lists to leave keys out of. Anything else
 * (a function, a Symbol, a Promise: values only JavaScript passes) is kept
 * as it is, for the schema to refuse by its type: structuredClone threw a
 * DOMException for them, quoting a function's source.
 */
function copyOfData(value: unknown, copies = new Map<object, unknown>()): unknown {
  if (!value || typeof value !== 'object') return value;
  const prototype = Object.getPrototypeOf(value);
  const isList = Array.isArray(value);
  if (!isList && prototype !== Object.prototype && prototype !== null) return value;
  if (copies.has(value)) return copies.get(value);
  const copy: Record<string, unknown> | unknown[] = isList ? [] : {};
  copies.set(value, copy);
  for (const [key, entry] of Object.entries(value)) (copy as Record<string, unknown>)[key] = copyOfData(entry, copies);
  return copy;
}

/**
 * The config with every key at fault left out (so its default stands in),
 * parsed: the checks across keys then run on the rest in the same pass as
 * the schema's, and every problem is told at once. Says which keys were
 * left out; undefined when no such config parses (the file is no mapping).
 */
export function parseWhatIsValid<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  issues: readonly z.ZodIssue[],
): { data: z.output<S>; leftOut: Path[] } | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const value = copyOfData(raw) as Record<string, unknown>;
  const leftOut: Path[] = [];
  let pending = issues;
  // Each round leaves out at least one more key, or the parent of one already left out.
  for (let round = 0; round < 8; round++) {
    for (const issue of pending) {
      for (let path of keysAtFault(issue)) {
        while (path.length > 0 && leftOut.some((done) => samePath(done, path))) path = path.slice(0, -1);
        if (path.length === 0) return undefined;
        leaveOut(value, path);
        leftOut.push(path);
      }
    }
    const result = schema.safeParse(value);
    if (result.success) return { data: result.data as z.output<S>, leftOut };
    pending = result.error.issues;
  }
  return undefined;
}

/** Whether a problem found on the stand-in config concerns a key that was left out (then it says nothing of the file). */
export function concernsLeftOut(key: string, leftOut: readonly Path[]): boolean {
  return leftOut.some((path) => {
    const left = path.join('.');
    return key === left || key.startsWith(`${left}.`) || left.startsWith(`${key}.`) || key === '';
  });
}
