import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fallbackChain, isKnownLanguage, LANGUAGE_TAG } from './languages';
import { SHIPPED_MESSAGES_DIR } from './language-list';
import { argumentNames, CompiledMessage, messageSignature, parseMessage, type Output } from './message-format';

/** The catalog every other is measured against, and the last of every fallback chain: it holds every key. */
export const REFERENCE_LANGUAGE = 'en';

type Catalog = Readonly<Record<string, string>>;

/** A catalog's own entry: `constructor` or `__proto__` is a key like any other, never the object's. */
const ownEntry = (catalog: Catalog, key: string): string | undefined => (Object.hasOwn(catalog, key) ? catalog[key] : undefined);

/** `<dir>/<tag>.json` files, each a flat object of key to ICU message. */
function readCatalogs(dir: string, operators = false): Map<string, { file: string; messages: Catalog }> {
  const catalogs = new Map<string, { file: string; messages: Catalog }>();
  if (!existsSync(dir)) return catalogs;
  for (const name of readdirSync(dir).sort()) {
    const tag = name.replace(/\.json$/, '');
    const file = path.join(dir, name);
    if (!name.endsWith('.json') || !LANGUAGE_TAG.test(tag)) {
      // A misspelt name (`pt_BR.json`, `fr.JSON`) would be ignored without a word.
      if (operators) throw new Error(`${file}: not a catalog: name it <language tag>.json, as pt-BR.json`);
      continue;
    }
    if (operators && !isKnownLanguage(tag)) throw new Error(`${file}: ${tag} is not a language tag the engine knows`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: not an object of key to message`);
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value !== 'string') throw new Error(`${file}: ${key}: a message is a string`);
    }
    catalogs.set(tag, { file, messages: parsed as Catalog });
  }
  return catalogs;
}

/**
 * Every language's strings: the shipped catalogs (`templates/messages/<tag>.json`),
 * each entry replaced by the operator's (`<templates_dir>/messages/<tag>.json`)
 * where it has one. An operator's catalog may only hold keys the module has,
 * and may only use the placeholders and tags the string it replaces uses; a
 * catalog for a language the module lacks adds that language. A key missing
 * in a language is taken down its fallback chain (`pt-BR`, `pt`, the default
 * language, English).
 */
export class Catalogs {
  /** Every language there is a catalog for, the module's and the operator's. */
  readonly languages: readonly string[];
  private readonly catalogs = new Map<string, Catalog>();
  private readonly compiled = new Map<string, CompiledMessage>();
  /** Each language's chain, worked out on its first message rather than on every one. */
  private readonly chains = new Map<string, readonly string[]>();
  private readonly operatorFiles = new Map<string, { file: string; messages: Catalog }>();

  constructor(
    operatorDir: string | undefined,
    private readonly defaultLanguage: string,
    shippedDir: string = SHIPPED_MESSAGES_DIR,
  ) {
    const shipped = readCatalogs(shippedDir);
    const reference = shipped.get(REFERENCE_LANGUAGE)?.messages;
    if (!reference) throw new Error(`no ${REFERENCE_LANGUAGE}.json catalog in ${shippedDir}`);
    for (const [tag, { messages }] of shipped) this.catalogs.set(tag, messages);
    const operator = operatorDir ? readCatalogs(path.join(operatorDir, 'messages'), true) : new Map<string, { file: string; messages: Catalog }>();
    for (const [tag, { file, messages }] of operator) {
      const own = shipped.get(tag)?.messages ?? {};
      for (const [key, message] of Object.entries(messages)) checkOverride(file, tag, key, message, ownEntry(own, key) ?? ownEntry(reference, key));
      this.catalogs.set(tag, { ...own, ...messages });
      this.operatorFiles.set(tag, { file, messages });
    }
    this.languages = Object.freeze([...this.catalogs.keys()].sort());
  }

  /** True when the reference catalog has `key`: every layout's keys must pass. */
  has(key: string): boolean {
    return ownEntry(this.catalogs.get(REFERENCE_LANGUAGE) ?? {}, key) !== undefined;
  }

  /** The languages `language`'s strings come from, best first, those with a catalog only. */
  chain(language: string): readonly string[] {
    let chain = this.chains.get(language);
    if (!chain) {
      chain = Object.freeze(fallbackChain(language, this.defaultLanguage).filter((tag) => this.catalogs.has(tag)));
      this.chains.set(language, chain);
    }
    return chain;
  }

  /** The operator's catalog file `key` in `language` is taken from, if it is an operator's string. */
  operatorFileOf(language: string, key: string): string | undefined {
    const from = this.languageHolding(key, language);
    const operator = from === undefined ? undefined : this.operatorFiles.get(from);
    return operator && key in operator.messages ? operator.file : undefined;
  }

  /** The first language down `language`'s chain whose catalog has `key`. */
  private languageHolding(key: string, language: string): string | undefined {
    return this.chain(language).find((tag) => ownEntry(this.catalogs.get(tag) ?? {}, key) !== undefined);
  }

  /** `key` in `language` (or down its fallback chain), its placeholders filled from `values`. */
  format(language: string, key: string, values: Readonly<Record<string, unknown>>, output: Output): string {
    const from = this.languageHolding(key, language);
    if (from === undefined) throw new Error(`no message ${key} in any catalog`);
    const id = `${from}\u0000${key}\u0000${output}`;
    let message = this.compiled.get(id);
    if (!message) {
      message = new CompiledMessage(parseMessage(this.catalogs.get(from)![key], from), from, output);
      this.compiled.set(id, message);
    }
    return message.format(values);
  }
}

/**
 * Refuses an operator's entry for a key the module lacks, one that does not
 * parse, or one whose arguments and tags are not exactly the shipped
 * string's: a placeholder dropped (an `sms.code` with no `{code}`) or
 * formatted (`{code, number}` sends `123,456`) breaks what it says as
 * surely as one added.
 */
function checkOverride(file: string, tag: string, key: string, message: string, shipped: string | undefined): void {
  if (shipped === undefined) throw new Error(`${file}: unknown key ${key}: there is no such string to override`);
  let own: string[];
  try {
    own = messageSignature(parseMessage(message, tag));
  } catch (err) {
    throw new Error(`${file}: ${key}: not an ICU message: ${(err as Error).message}`);
  }
  const allowed = messageSignature(parseMessage(shipped, tag));
  const names = new Set(argumentNames(allowed));
  const foreign = own.filter((entry) => (entry.startsWith('<') ? !allowed.includes(entry) : !names.has(argumentNames([entry])[0])));
  if (foreign.length > 0) {
    throw new Error(`${file}: ${key}: uses ${foreign.join(', ')}, which the shipped string does not have (it has: ${allowed.join(', ') || 'none'})`);
  }
  const differing = [...allowed.filter((entry) => !own.includes(entry)), ...own.filter((entry) => !allowed.includes(entry))];
  if (differing.length > 0) {
    throw new Error(`${file}: ${key}: must use exactly the shipped string's placeholders and tags, ${allowed.join(', ') || 'none'}; it has ${own.join(', ') || 'none'}`);
  }
}
