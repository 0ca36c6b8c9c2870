/**
 * Validates HTTP responses against the Matrix spec's OpenAPI documents.
 *
 * Usage from tests:
 *   expectResponseMatchesSpec('client-server/registration.yaml', '/register/email/requestToken', 'post', res.status, res.body);
 *   expectMatrixError(res.body, 'M_THREEPID_IN_USE');
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
// OpenAPI 3.1 schemas are JSON Schema 2020-12.
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

export const SPEC_DIR = process.env.MATRIX_SPEC_DIR
  ? path.resolve(process.env.MATRIX_SPEC_DIR)
  : path.resolve(__dirname, '../../../shared/spec/data/api');

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// The spec's own string formats (its appendix on identifier grammar).
ajv.addFormat('mx-user-id', /^@[^:\s]+:\S+$/);
ajv.addFormat('mx-server-name', /^[A-Za-z0-9.:[\]-]+$/);

const docCache = new Map<string, unknown>();
const validatorCache = new Map<string, ValidateFunction | null>();

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Loads and caches a YAML file, given an absolute path. */
function loadDoc(absFile: string): unknown {
  let doc = docCache.get(absFile);
  if (doc === undefined) {
    if (!fs.existsSync(absFile)) throw new Error(`Spec file not found: ${absFile} (set MATRIX_SPEC_DIR?)`);
    doc = parse(fs.readFileSync(absFile, 'utf8'));
    docCache.set(absFile, doc);
  }
  return doc;
}

/** Applies a JSON pointer fragment such as "/components/schemas/foo" (RFC 6901). */
function followPointer(doc: unknown, pointer: string, where: string): unknown {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) throw new Error(`Cannot resolve ${where}: "${key}" not found`);
    node = (node as Json)[key];
    if (node === undefined) throw new Error(`Cannot resolve ${where}: "${key}" not found`);
  }
  return node;
}

/** Splits a $ref into the absolute file it points into and its JSON pointer. */
function refTarget(ref: string, absFile: string): { file: string; pointer: string; key: string } {
  const [filePart, pointer = ''] = ref.split('#');
  const file = filePart ? path.resolve(path.dirname(absFile), filePart) : absFile;
  return { file, pointer, key: `${file}#${pointer}` };
}

/** Follows $refs on `node` itself only (e.g. a $ref'd response object), tracking the file it lives in. */
function shallowResolve(node: unknown, absFile: string): { node: unknown; absFile: string } {
  const seen = new Set<string>();
  while (isObject(node) && typeof node.$ref === 'string') {
    const target = refTarget(node.$ref, absFile);
    if (seen.has(target.key)) throw new Error(`Circular $ref "${node.$ref}" in ${absFile}`);
    seen.add(target.key);
    node = followPointer(loadDoc(target.file), target.pointer, `$ref "${node.$ref}" in ${absFile}`);
    absFile = target.file;
  }
  return { node, absFile };
}

interface DerefContext {
  stack: string[];
  /** Refs found to be recursive, mapped to their name under the root's $defs. */
  recursive: Map<string, string>;
  defs: Json;
}

/**
 * Returns a copy of `node` with every $ref inlined. Refs are resolved relative to `absFile`.
 * A ref that refers back to one being resolved becomes a local `#/$defs/...` ref instead,
 * so recursive schemas still compile (the caller attaches `ctx.defs` to the root).
 */
function deref(node: unknown, absFile: string, ctx: DerefContext): unknown {
  if (Array.isArray(node)) return node.map((n) => deref(n, absFile, ctx));
  if (!isObject(node)) return node;

  if (typeof node.$ref === 'string') {
    const { $ref, ...siblings } = node;
    const { file: targetFile, pointer, key } = refTarget($ref as string, absFile);
    let target: unknown;
    if (ctx.stack.includes(key)) {
      let name = ctx.recursive.get(key);
      if (!name) ctx.recursive.set(key, (name = `ref${ctx.recursive.size}`));
      target = { $ref: `#/$defs/${name}` };
    } else {
      ctx.stack.push(key);
      const where = `$ref "${$ref}" in ${path.relative(SPEC_DIR, absFile)}`;
      target = deref(followPointer(loadDoc(targetFile), pointer, where), targetFile, ctx);
      ctx.stack.pop();
      const name = ctx.recursive.get(key);
      if (name) ctx.defs[name] = target;
    }
    // OpenAPI 3.1 allows keywords beside $ref; they apply in addition to the target.
    const rest = deref(siblings, absFile, ctx) as Json;
    return Object.keys(rest).length ? { allOf: [target, rest] } : target;
  }

  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = deref(v, absFile, ctx);
  return out;
}

/** Dereferences a schema and makes it compilable as a standalone root schema. */
function resolveSchema(schema: unknown, absFile: string): Json {
  const ctx: DerefContext = { stack: [], recursive: new Map(), defs: {} };
  const resolved = deref(schema, absFile, ctx);
  if (!isObject(resolved)) throw new Error(`Schema in ${absFile} is not an object`);
  return Object.keys(ctx.defs).length ? { ...resolved, $defs: { ...(resolved.$defs as Json), ...ctx.defs } } : resolved;
}

/** Returns the raw (not dereferenced) OpenAPI operation object. */
export function loadOperation(file: string, pathTemplate: string, method: string): Json {
  const doc = loadDoc(path.resolve(SPEC_DIR, file));
  const paths = isObject(doc) && isObject(doc.paths) ? doc.paths : {};
  const pathItem = paths[pathTemplate];
  if (!isObject(pathItem)) {
    throw new Error(`Path "${pathTemplate}" not in ${file}. Known paths: ${Object.keys(paths).join(', ')}`);
  }
  const op = pathItem[method.toLowerCase()];
  if (!isObject(op)) throw new Error(`No ${method.toUpperCase()} operation for "${pathTemplate}" in ${file}`);
  return op;
}

/** Picks the documented response key for a status: exact, then "4XX"-style, then "default". */
function responseKeyFor(responses: Json, status: number): string | undefined {
  const wildcard = `${Math.floor(status / 100)}XX`;
  return Object.keys(responses).find((k) => k === String(status))
    ?? Object.keys(responses).find((k) => k.toUpperCase() === wildcard)
    ?? (responses.default !== undefined ? 'default' : undefined);
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `  - ${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
}

function runValidator(validate: ValidateFunction, body: unknown, what: string): void {
  if (!validate(body)) {
    throw new Error(
      `Body does not match ${what}:\n${formatErrors(validate.errors)}\nBody: ${JSON.stringify(body, null, 2)}`,
    );
  }
}

/**
 * Throws unless `status` is documented for the operation and `body` matches its JSON schema.
 * Responses documented without a JSON body schema (e.g. a bare "3XX") accept any body.
 */
export function expectResponseMatchesSpec(
  file: string,
  pathTemplate: string,
  method: string,
  status: number,
  body: unknown,
): void {
  const op = loadOperation(file, pathTemplate, method);
  const what = `${method.toUpperCase()} ${pathTemplate} (${file})`;
  const absFile = path.resolve(SPEC_DIR, file);
  const responses = isObject(op.responses) ? op.responses : {};
  const key = responseKeyFor(responses, status);
  if (key === undefined) {
    throw new Error(`Status ${status} is not documented for ${what}; documented: ${Object.keys(responses).join(', ')}`);
  }

  const cacheKey = `${absFile}|${pathTemplate}|${method.toLowerCase()}|${key}`;
  let validate = validatorCache.get(cacheKey);
  if (validate === undefined) {
    const response = shallowResolve(responses[key], absFile);
    const content = isObject(response.node) && isObject(response.node.content) ? response.node.content : {};
    const media = content['application/json'];
    const schema = isObject(media) ? media.schema : undefined;
    validate = schema === undefined ? null : ajv.compile(resolveSchema(schema, response.absFile));
    validatorCache.set(cacheKey, validate);
  }
  if (validate) runValidator(validate, body, `${what} response ${key}`);
}

/** Throws unless `body` is a Matrix error (client-server/definitions/errors/error.yaml) with this errcode. */
export function expectMatrixError(body: unknown, errcode: string): void {
  const file = 'client-server/definitions/errors/error.yaml';
  const absFile = path.resolve(SPEC_DIR, file);
  let validate = validatorCache.get(absFile);
  if (!validate) {
    validate = ajv.compile(resolveSchema(loadDoc(absFile), absFile));
    validatorCache.set(absFile, validate);
  }
  runValidator(validate, body, file);
  const actual = (body as Json).errcode;
  if (actual !== errcode) {
    throw new Error(`Expected errcode ${errcode} but got ${String(actual)}. Body: ${JSON.stringify(body)}`);
  }
}
