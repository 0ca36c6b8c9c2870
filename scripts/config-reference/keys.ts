import { z } from 'zod';
import { SECRET_ENV } from '../../src/config/common';
import { isDurationValue, isSynapseKey } from '../../src/config/doc-marks';

/** One key of the config, as the schema declares it, with what its documentation needs. */
export interface ConfigKey {
  /** Dotted, with `[]` for each entry of a list: `email.smtp_port`, `allowed_local_3pids[].medium`. */
  readonly path: string;
  readonly name: string;
  /** The parent's keys before this one: e.g. `['email']`, `['allowed_local_3pids[]']`. */
  readonly parents: readonly string[];
  readonly description: string | undefined;
  readonly synapse: boolean;
  /** The value's kind, for a reader: `integer, 1–65535`, `duration`, `list of string`. */
  readonly type: string;
  /** The schema's default, as the file would spell it; absent when there is none. */
  readonly fallback: { readonly value: unknown } | undefined;
  /** No default and not optional: must be written once its section is. */
  readonly required: boolean;
  /** The key's input takes null (a section whose keys are all commented out, or a null that means something). */
  readonly takesNull: boolean;
  /** The environment variable that may hold the value instead (also as `…_FILE`). */
  readonly env: string | undefined;
  /** The keys of a mapping, or of each entry of a list of mappings. */
  readonly keys: readonly ConfigKey[] | undefined;
  readonly list: boolean;
  /** The key's own schema: keys that share one (and so one description) are told together. */
  readonly schema: z.ZodTypeAny;
}

interface Unwrapped {
  inner: z.ZodTypeAny;
  description: string | undefined;
  fallback: { value: unknown } | undefined;
  optional: boolean;
  takesNull: boolean;
  meaningfulNull: boolean;
  duration: boolean;
}

/** Looks through the wrappers a key's value is declared in (defaults, optional, null, checks, transforms). */
function unwrap(schema: z.ZodTypeAny): Unwrapped {
  const found: Unwrapped = { inner: schema, description: undefined, fallback: undefined, optional: false, takesNull: false, meaningfulNull: false, duration: false };
  for (let node = schema; ; ) {
    found.description ??= node.description;
    found.duration ||= isDurationValue(node);
    if (node instanceof z.ZodEffects) {
      // `section`'s preprocess: null stands for the section left out.
      if (node._def.effect.type === 'preprocess') found.takesNull = true;
      node = node._def.schema;
    } else if (node instanceof z.ZodDefault) {
      found.fallback ??= { value: node._def.defaultValue() };
      node = node._def.innerType;
    } else if (node instanceof z.ZodOptional) {
      found.optional = true;
      node = node._def.innerType;
    } else if (node instanceof z.ZodNullable) {
      found.takesNull = found.meaningfulNull = true;
      node = node._def.innerType;
    } else {
      found.inner = node;
      return found;
    }
  }
}

function numberType(schema: z.ZodNumber): string {
  const checks = schema._def.checks;
  const kind = checks.some((check) => check.kind === 'int') ? 'integer' : 'number';
  const min = checks.find((check) => check.kind === 'min');
  const max = checks.find((check) => check.kind === 'max');
  if (min && max) return `${kind}, ${min.value}–${max.value}`;
  if (min) return `${kind} ${min.inclusive ? '≥' : '>'} ${min.value}`;
  return kind;
}

/** The value's kind in words. */
function typeOf(unwrapped: Unwrapped): string {
  const { inner } = unwrapped;
  const orNull = (text: string) => (unwrapped.meaningfulNull ? `${text}, or null` : text);
  if (unwrapped.duration) return 'duration';
  if (inner instanceof z.ZodString) return orNull(inner._def.checks.some((check) => check.kind === 'url') ? 'URL' : 'string');
  if (inner instanceof z.ZodNumber) return orNull(numberType(inner));
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodEnum) return orNull(`one of ${(inner.options as string[]).map((option) => `\`${option}\``).join(', ')}`);
  if (inner instanceof z.ZodArray) return orNull(`list of ${typeOf(unwrap(inner.element))}`);
  if (inner instanceof z.ZodRecord) {
    const values = unwrap(inner._def.valueType);
    return values.inner instanceof z.ZodUnknown ? 'mapping' : `mapping of string to ${typeOf(values)}`;
  }
  if (inner instanceof z.ZodObject) return 'mapping';
  if (inner instanceof z.ZodUnknown) return 'any';
  throw new Error(`the configuration reference cannot describe a ${inner.constructor.name}`);
}

function keysOf(object: z.ZodObject<z.ZodRawShape>, parents: readonly string[]): ConfigKey[] {
  return Object.entries(object.shape).map(([name, schema]) => describeKey(name, schema, parents));
}

function describeKey(name: string, schema: z.ZodTypeAny, parents: readonly string[]): ConfigKey {
  const unwrapped = unwrap(schema);
  const path = [...parents, name].join('.');
  const element = unwrapped.inner instanceof z.ZodArray ? unwrap(unwrapped.inner.element).inner : undefined;
  const keys =
    unwrapped.inner instanceof z.ZodObject
      ? keysOf(unwrapped.inner, [...parents, name])
      : element instanceof z.ZodObject
        ? keysOf(element, [...parents, `${name}[]`])
        : undefined;
  return {
    path,
    name,
    parents,
    description: unwrapped.description,
    synapse: isSynapseKey(schema),
    type: element instanceof z.ZodObject ? 'list of mappings' : typeOf(unwrapped),
    fallback: unwrapped.fallback,
    required: !unwrapped.fallback && !unwrapped.optional,
    takesNull: unwrapped.takesNull,
    env: (SECRET_ENV as Record<string, string>)[path],
    keys,
    list: element instanceof z.ZodObject,
    schema,
  };
}

/** Every top-level key of the schema, each with its keys below. */
export function configKeys(schema: z.ZodObject<z.ZodRawShape>): ConfigKey[] {
  return keysOf(schema, []);
}

/** Every key, at every depth, parents before their keys. */
export function allKeys(keys: readonly ConfigKey[]): ConfigKey[] {
  return keys.flatMap((key) => [key, ...allKeys(key.keys ?? [])]);
}
