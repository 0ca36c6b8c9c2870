import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';
import { packageRoot } from '../package-files';

/** The templates shipped with the module. */
export const DEFAULT_TEMPLATES_DIR = path.join(packageRoot(), 'templates');

const noEscape = (value: string): string => value;

/**
 * Mustache templates, looked up first in the operator's `templates_dir` and
 * then in the module's own folder, so an operator overrides only the files
 * they copy. HTML files are rendered with HTML escaping of every `{{value}}`;
 * `.txt` files (plain-text bodies, subjects) verbatim.
 */
export class Templates {
  private readonly cache = new Map<string, string>();
  private readonly dirs: readonly string[];

  constructor(operatorDir?: string) {
    this.dirs = operatorDir ? [path.resolve(operatorDir), DEFAULT_TEMPLATES_DIR] : [DEFAULT_TEMPLATES_DIR];
  }

  /** Renders `name` (e.g. `email/registration.html`) with `view`. */
  render(name: string, view: Record<string, unknown>): string {
    const template = this.load(name);
    return name.endsWith('.html')
      ? Mustache.render(template, view)
      : Mustache.render(template, view, undefined, { escape: noEscape });
  }

  /** Reads every named template now, so a broken setup fails at start, not at the first email. */
  preload(names: readonly string[]): void {
    for (const name of names) this.load(name);
  }

  private load(name: string): string {
    let template = this.cache.get(name);
    if (template === undefined) {
      const file = this.dirs.map((dir) => path.join(dir, name)).find((candidate) => existsSync(candidate));
      if (!file) throw new Error(`template ${name} not found in ${this.dirs.join(' or ')}`);
      template = readFileSync(file, 'utf8');
      Mustache.parse(template);
      this.cache.set(name, template);
    }
    return template;
  }
}
