import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';
import { packageRoot } from '../package-files';
import { Catalogs, REFERENCE_LANGUAGE } from './catalogs';
import { languageInfo } from './language-list';
import { isKnownLanguage, LANGUAGE_TAG, truncations } from './languages';

/** The layouts shipped with the module (`email/`, `pages/`, `sms/`) and, in `messages/`, one catalog per language. */
export const DEFAULT_TEMPLATES_DIR = path.join(packageRoot(), 'templates');

const noEscape = (value: string): string => value;

/** A layout found for a language: its text, and the language it is written for when it is an operator's copy in a language folder. */
interface Found {
  readonly template: string;
  readonly language?: string;
}

/** A rendered template and the language of its words. */
export interface Rendered {
  readonly text: string;
  readonly language: string;
}

/** Folders of an operator's templates folder that are not languages, though some look like tags. */
const NOT_LANGUAGES = new Set(['email', 'pages', 'sms', 'messages']);

/**
 * An operator's folders that add a language: named with a language tag the
 * engine knows, and holding pages (a folder of emails alone would put a
 * language in the menu whose pages are another's). A folder for a language
 * with a catalog adds nothing, it only overrides.
 */
function languageFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (name) =>
      LANGUAGE_TAG.test(name) &&
      !NOT_LANGUAGES.has(name) &&
      statSync(path.join(dir, name)).isDirectory() &&
      existsSync(path.join(dir, name, 'pages')) &&
      isKnownLanguage(name),
  );
}

type Token = ReturnType<typeof Mustache.parse>[number];

/** The message keys a parsed layout names (`{{#t}}key{{/t}}`) and the partials it includes. */
function walkTokens(tokens: readonly Token[], keys: Set<string>, partials: Set<string>): void {
  for (const token of tokens) {
    if (token[0] === '#' && token[1] === 't') {
      const inner = (token[4] as Token[] | undefined) ?? [];
      keys.add(inner.map((part) => (part[0] === 'text' ? part[1] : '')).join('').trim());
    } else if (token[0] === '>') {
      partials.add(token[1]);
    } else if (Array.isArray(token[4])) {
      walkTokens(token[4] as Token[], keys, partials);
    }
  }
}

/** True when a layout refers to its words by key: then it is the same for every language. */
function usesMessages(template: string): boolean {
  const keys = new Set<string>();
  walkTokens(Mustache.parse(template), keys, new Set());
  return keys.size > 0;
}

/** True when a layout has words of its own: letters outside markup, styles, scripts, comments and Mustache tags. */
function hasOwnWords(template: string): boolean {
  const text = Mustache.parse(template)
    .filter((token) => token[0] === 'text')
    .map((token) => token[1])
    .join(' ')
    .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[#\w]+;/g, ' ');
  return /\p{L}/u.test(text);
}

/** True when a flat layout (no language folder) serves every language: its words come by key, or it has none. */
function servesEveryLanguage(template: string): boolean {
  return usesMessages(template) || !hasOwnWords(template);
}

/**
 * The names in plain text isolated with FSI and PDI (U+2068, U+2069), so a
 * Latin app name keeps its place in a right-to-left subject, as `<bdi>`
 * keeps it in HTML. Emails only: in a text message they would take it out
 * of GSM-7.
 */
function isolatingNames(view: Record<string, unknown>): Record<string, unknown> {
  const isolated = { ...view };
  for (const key of ['app_name', 'server_name']) {
    if (typeof view[key] === 'string') isolated[key] = `\u2068${view[key]}\u2069`;
  }
  return isolated;
}

/**
 * Mustache layouts, one set for every language, whose words come from the
 * message catalogs: `{{#t}}email.registration.subject{{/t}}` is that
 * string in the language rendered, its placeholders filled from the view
 * (HTML-escaped in `.html` layouts, where a message's `<b>` becomes
 * `<strong>`). A layout `name` (e.g. `email/registration.html`) in
 * language `L` is looked up in:
 *
 * 1. `<templates_dir>/L/name`, then the same for L's shorter forms (the
 *    operator's copy for that language, often with its words written in),
 * 2. `<templates_dir>/name`, when the file refers to messages by key or
 *    has no words of its own (a stylesheet, a logo), or else when L is the
 *    default language (a flat override with its words written in, as
 *    before catalogs, is taken to be in the server's default language),
 * 3. the module's own `templates/name`.
 *
 * Files starting with `_` are partials (`{{> _head}}` names `_head.html`
 * in the same folder), looked up the same way. `.txt` files (plain-text
 * bodies, subjects, text messages) are rendered verbatim. Every render
 * gets `lang` and `dir`.
 */
export class Templates {
  private readonly files = new Map<string, string | null>();
  /** Which file serves a layout in a language: decided once, since telling whether a flat layout serves every language parses it. */
  private readonly found = new Map<string, Found>();
  private readonly operatorDir: string | undefined;
  readonly catalogs: Catalogs;
  /** Every language there are strings for: the module's catalogs, the operator's, and the operator's language folders. */
  readonly languages: readonly string[];

  constructor(
    operatorDir?: string,
    readonly defaultLanguage: string = REFERENCE_LANGUAGE,
  ) {
    this.operatorDir = operatorDir ? path.resolve(operatorDir) : undefined;
    this.catalogs = new Catalogs(this.operatorDir, defaultLanguage);
    const languages = new Set(this.catalogs.languages);
    if (this.operatorDir) for (const language of languageFolders(this.operatorDir)) languages.add(language);
    this.languages = Object.freeze([...languages].sort());
    if (!this.languages.includes(defaultLanguage)) {
      throw new Error(`default language ${defaultLanguage} has no catalog (there are: ${this.languages.join(', ')})`);
    }
  }

  /** Renders `name` in `language` with `view`. */
  render(name: string, language: string, view: Record<string, unknown>): string {
    return this.renderWithLanguage(name, language, view).text;
  }

  /** As {@link render}, and says which language the text is in. */
  renderWithLanguage(name: string, language: string, view: Record<string, unknown>): Rendered {
    const found = this.find(name, language);
    const wordsIn = found.language ?? this.catalogs.chain(language)[0];
    const folder = path.posix.dirname(name);
    const partials = (partial: string) => this.find(`${folder}/${partial}.html`, language).template;
    const output = name.endsWith('.html') ? 'html' : 'text';
    const dir = languageInfo(wordsIn).dir;
    const values = output === 'text' && dir === 'rtl' && name.startsWith('email/') ? isolatingNames(view) : view;
    const t = () => (key: string) => this.catalogs.format(wordsIn, key.trim(), values, output);
    const fullView = { ...values, lang: wordsIn, dir, t };
    const text =
      output === 'html'
        ? Mustache.render(found.template, fullView, partials)
        : Mustache.render(found.template, fullView, partials, { escape: noEscape });
    return { text, language: wordsIn };
  }

  /** The message keys layout `name` uses in `language`, its partials' included. */
  keysOf(name: string, language: string): string[] {
    const keys = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const partials = new Set<string>();
      walkTokens(Mustache.parse(this.find(file, language).template), keys, partials);
      for (const partial of partials) visit(`${path.posix.dirname(name)}/${partial}.html`);
    };
    visit(name);
    return [...keys].sort();
  }

  /**
   * Reads every named layout and the partials it uses in every language
   * now, checks that every key it names has a message, and renders it
   * once, so a broken setup fails at start, not at the first email.
   */
  preload(names: readonly string[]): void {
    const sample = { app_name: 'Matrix', server_name: 'example.org', link: 'https://example.org/', code: '000000', count: 1 };
    for (const language of this.languages) {
      for (const name of names) {
        const unknown = this.keysOf(name, language).filter((key) => !this.catalogs.has(key));
        if (unknown.length > 0) throw new Error(`template ${name} (${language}) names messages no catalog has: ${unknown.join(', ')}`);
        this.renderWithLanguage(name, language, sample);
      }
    }
  }

  private find(name: string, language: string): Found {
    const id = `${language}\u0000${name}`;
    let found = this.found.get(id);
    if (!found) {
      found = this.lookUp(name, language);
      this.found.set(id, found);
    }
    return found;
  }

  private lookUp(name: string, language: string): Found {
    const candidates: Array<{ file: string; language?: string }> = [];
    if (this.operatorDir) {
      for (const tag of truncations(language)) candidates.push({ file: path.join(this.operatorDir, tag, name), language: tag });
    }
    for (const { file, language: tag } of candidates) {
      const template = this.read(file);
      if (template) return { template, language: tag };
    }
    if (this.operatorDir) {
      const flat = this.read(path.join(this.operatorDir, name));
      if (flat && servesEveryLanguage(flat)) return { template: flat };
      if (flat && language === this.defaultLanguage) return { template: flat, language };
    }
    const shipped = this.read(path.join(DEFAULT_TEMPLATES_DIR, name));
    if (shipped) return { template: shipped };
    throw new Error(`template ${name} not found for language ${language} in ${[this.operatorDir, DEFAULT_TEMPLATES_DIR].filter(Boolean).join(' or ')}`);
  }

  private read(file: string): string | null {
    let template = this.files.get(file);
    if (template === undefined) {
      template = existsSync(file) ? readFileSync(file, 'utf8') : null;
      if (template !== null) Mustache.parse(template);
      this.files.set(file, template);
    }
    return template;
  }
}
