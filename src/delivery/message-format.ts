import { IntlMessageFormat, type PrimitiveType } from 'intl-messageformat';

/** One element of a parsed ICU message. */
type Element = ReturnType<IntlMessageFormat['getAst']>[number];

/** The parser's element kinds (`@formatjs/icu-messageformat-parser`'s TYPE), those this file looks into. */
const LITERAL = 0;
const NUMBER = 2;
const DATE = 3;
const TIME = 4;
const SELECT = 5;
const PLURAL = 6;
const TAG = 8;

/** Plain text for mail bodies, subjects and SMS; HTML for pages and HTML mail. */
export type Output = 'text' | 'html';

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

/**
 * The tags a message may use, and the HTML each becomes. `<b>` marks a name
 * to stand out (the server's); its content is isolated (`<bdi>`) so a
 * left-to-right name keeps its order inside right-to-left text.
 */
const HTML_TAGS: Readonly<Record<string, (chunks: string[]) => string>> = {
  b: (chunks) => `<strong><bdi>${chunks.join('')}</bdi></strong>`,
};
const TEXT_TAGS: Readonly<Record<string, (chunks: string[]) => string>> = {
  b: (chunks) => chunks.join(''),
};

/** Parses an ICU message; a syntax error throws, naming nothing but what is wrong. */
export function parseMessage(source: string, locale: string): Element[] {
  return new IntlMessageFormat(source, locale, undefined, { ignoreTag: false }).getAst();
}

function mapLiterals(elements: Element[], change: (text: string) => string): Element[] {
  return elements.map((element) => {
    if (element.type === LITERAL) return { ...element, value: change(element.value) };
    if (element.type === TAG) return { ...element, children: mapLiterals(element.children, change) };
    if (element.type === SELECT || element.type === PLURAL) {
      const options = Object.fromEntries(
        Object.entries(element.options).map(([key, option]) => [key, { ...option, value: mapLiterals(option.value, change) }]),
      );
      return { ...element, options } as Element;
    }
    return element;
  });
}

const FORMATTED: Readonly<Record<number, string>> = { [NUMBER]: 'number', [DATE]: 'date', [TIME]: 'time' };

/** A formatted argument's style as text: a named style (`short`), a skeleton's options, or none. */
function styleOf(style: unknown): string {
  if (style === null || style === undefined) return '';
  if (typeof style === 'string') return `(${style})`;
  return `(${JSON.stringify(style, (key, value: unknown) => (key === 'location' ? undefined : value))})`;
}

/**
 * What a message's arguments are, as a sorted list: `name` for a plain
 * value, `name:number`, `name:date(short)` and the like for one formatted
 * (a code sent as `123,456` is no longer the code), `name:plural` or
 * `name:select(a|b)` for one that chooses a form, `<tag>` for markup. Two translations of one string must agree on it,
 * except that a plural's forms differ by language.
 */
export function messageSignature(elements: Element[]): string[] {
  const found = new Set<string>();
  const walk = (list: Element[]) => {
    for (const element of list) {
      if (element.type === TAG) {
        found.add(`<${element.value}>`);
        walk(element.children);
      } else if (element.type === PLURAL) {
        found.add(`${element.value}:${element.pluralType === 'ordinal' ? 'selectordinal' : 'plural'}`);
        for (const option of Object.values(element.options)) walk(option.value);
      } else if (element.type === SELECT) {
        found.add(`${element.value}:select(${Object.keys(element.options).sort().join('|')})`);
        for (const option of Object.values(element.options)) walk(option.value);
      } else if (FORMATTED[element.type] !== undefined && 'style' in element) {
        found.add(`${element.value}:${FORMATTED[element.type]}${styleOf(element.style)}`);
      } else if ('value' in element && element.type !== LITERAL && typeof element.value === 'string') {
        found.add(element.value);
      }
    }
  };
  walk(elements);
  return [...found].sort();
}

/** The argument names alone (no kinds, no tags): what values a message reads. */
export function argumentNames(signature: readonly string[]): string[] {
  return signature.filter((entry) => !entry.startsWith('<')).map((entry) => entry.split(':')[0]);
}

/** A compiled message that writes plain text or HTML; in HTML every value and every literal is escaped. */
export class CompiledMessage {
  private readonly formatter: IntlMessageFormat;

  constructor(
    elements: Element[],
    locale: string,
    private readonly output: Output,
  ) {
    const ast = output === 'html' ? mapLiterals(elements, escapeHtml) : elements;
    this.formatter = new IntlMessageFormat(ast, locale);
  }

  format(values: Readonly<Record<string, unknown>>): string {
    const args: Record<string, PrimitiveType | ((chunks: string[]) => string)> = {};
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === 'string') args[name] = this.output === 'html' ? escapeHtml(value) : value;
      else if (typeof value === 'number') args[name] = value;
    }
    Object.assign(args, this.output === 'html' ? HTML_TAGS : TEXT_TAGS);
    const result = this.formatter.format<string>(args);
    return Array.isArray(result) ? result.join('') : String(result);
  }
}
