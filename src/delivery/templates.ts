import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';
import { packageRoot } from '../package-files';
import { LANGUAGE_TAG } from './languages';

/** The templates shipped with the module: one folder per language, `templates/<lang>/`. */
export const DEFAULT_TEMPLATES_DIR = path.join(packageRoot(), 'templates');

/** The language every other one falls back to, file by file: the module ships it complete. */
export const FALLBACK_LANGUAGE = 'en';


const noEscape = (value: string): string => value;

/** A template file found for a language, and the language it is written in. */
interface Found {
  readonly template: string;
  readonly language: string;
}

/** A rendered template and the language of the file it came from. */
export interface Rendered {
  readonly text: string;
  readonly language: string;
}

/** The kinds of template: in a flat override folder these sit beside the language folders (`sms` looks like a tag). */
const KINDS = new Set(['email', 'pages', 'sms']);

function languageFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (name) => LANGUAGE_TAG.test(name) && !KINDS.has(name) && statSync(path.join(dir, name)).isDirectory(),
  );
}

/**
 * Mustache templates, one folder per language. A template `name` (e.g.
 * `email/registration.html`) in language `L` is looked up in:
 *
 * 1. `<templates_dir>/L/name` (the operator's copy for that language),
 * 2. `<templates_dir>/name`, when L is the default language (a flat
 *    override, as written before there were languages, is taken to be in
 *    the server's default language),
 * 3. the module's own `templates/L/name`,
 *
 * and then the same for English, so a language folder needs only the files
 * it translates. Files starting with `_` are partials (`{{> _head}}` names
 * `_head.html` in the same folder), looked up the same way. HTML files are
 * rendered with HTML escaping of every `{{value}}`; `.txt` files (plain-text
 * bodies, subjects, text messages) verbatim. Every render gets `lang`: the
 * language of the file actually used.
 */
export class Templates {
  private readonly files = new Map<string, string | null>();
  private readonly operatorDir: string | undefined;
  /** Every language there are templates for, the module's and the operator's. */
  readonly languages: readonly string[];

  constructor(
    operatorDir?: string,
    readonly defaultLanguage: string = FALLBACK_LANGUAGE,
  ) {
    this.operatorDir = operatorDir ? path.resolve(operatorDir) : undefined;
    const languages = new Set([FALLBACK_LANGUAGE, ...languageFolders(DEFAULT_TEMPLATES_DIR)]);
    if (this.operatorDir) for (const language of languageFolders(this.operatorDir)) languages.add(language);
    this.languages = Object.freeze([...languages].sort());
    if (!this.languages.includes(defaultLanguage)) {
      throw new Error(`default language ${defaultLanguage} has no templates folder (there are: ${this.languages.join(', ')})`);
    }
  }

  /** Renders `name` in `language` (falling back file by file to English) with `view`. */
  render(name: string, language: string, view: Record<string, unknown>): string {
    return this.renderWithLanguage(name, language, view).text;
  }

  /** As {@link render}, and says which language the text is in. */
  renderWithLanguage(name: string, language: string, view: Record<string, unknown>): Rendered {
    const found = this.find(name, language);
    const folder = path.posix.dirname(name);
    const partials = (partial: string) => this.find(`${folder}/${partial}.html`, language).template;
    const fullView = { ...view, lang: found.language };
    const text = name.endsWith('.html')
      ? Mustache.render(found.template, fullView, partials)
      : Mustache.render(found.template, fullView, partials, { escape: noEscape });
    return { text, language: found.language };
  }

  /**
   * Reads (and renders once, which reads the partials they use) every named
   * template in every language now, so a broken setup fails at start, not at
   * the first email.
   */
  preload(names: readonly string[]): void {
    for (const language of this.languages) for (const name of names) this.renderWithLanguage(name, language, {});
  }

  private find(name: string, language: string): Found {
    const chain = language === FALLBACK_LANGUAGE ? [language] : [language, FALLBACK_LANGUAGE];
    for (const lang of chain) {
      const candidates = [
        this.operatorDir && path.join(this.operatorDir, lang, name),
        this.operatorDir && lang === this.defaultLanguage ? path.join(this.operatorDir, name) : undefined,
        path.join(DEFAULT_TEMPLATES_DIR, lang, name),
      ];
      for (const file of candidates) {
        const template = file && this.read(file);
        if (template) return { template, language: lang };
      }
    }
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
