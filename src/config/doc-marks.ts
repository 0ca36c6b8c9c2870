import type { z } from 'zod';

/*
 * What the configuration reference reads off the schema besides each key's
 * description (zod's `.describe`): which keys Synapse has too, and which
 * values are durations. Marks sit on the schema objects themselves, so a
 * key is documented once, where it is declared.
 */

const synapseKeys = new WeakSet<z.ZodTypeAny>();
const durations = new WeakSet<z.ZodTypeAny>();

/**
 * Marks a key as one Synapse reads too, with the same meaning, so a block
 * pasted from homeserver.yaml works. Wraps the key's outermost schema (after
 * `.describe`): zod's methods return new objects, which carry no mark.
 */
export function synapse<T extends z.ZodTypeAny>(schema: T): T {
  synapseKeys.add(schema);
  return schema;
}

export const isSynapseKey = (schema: z.ZodTypeAny): boolean => synapseKeys.has(schema);

/** Marks the value a duration is parsed from; the reference finds it inside the key's wrappers. */
export function durationValue<T extends z.ZodTypeAny>(schema: T): T {
  durations.add(schema);
  return schema;
}

export const isDurationValue = (schema: z.ZodTypeAny): boolean => durations.has(schema);
