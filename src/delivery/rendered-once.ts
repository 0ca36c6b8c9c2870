import Mustache from 'mustache';
import { escapeHtml } from './message-format';

/**
 * A rendered layout with holes where one value goes: rendering an email
 * (catalog look-ups, ICU formatting, Mustache) cost more than sending it,
 * though per template and language only the link differs. The layout is
 * rendered once with a marker for the value; each message then joins the
 * pieces around the value, escaped as each hole was: as it is (plain
 * text, `{{{value}}}`), by Mustache (`{{value}}` in HTML) or by the
 * catalogs' formatter (a placeholder of an HTML message).
 */
export class RenderedOnce {
  private constructor(
    private readonly pieces: readonly string[],
    private readonly escapes: ReadonlyArray<(value: string) => string>,
  ) {}

  /**
   * The layout `render` writes, with holes for the value; undefined when
   * the marker does not come out whole (the layout transforms the value),
   * or when the pieces filled with `probe` differ from rendering `probe`.
   */
  static of(render: (value: string) => string, probe: string): RenderedOnce | undefined {
    const marked = render(MARKER);
    const pieces: string[] = [];
    const escapes: Array<(value: string) => string> = [];
    let from = 0;
    for (const match of marked.matchAll(MARKED)) {
      pieces.push(marked.slice(from, match.index));
      escapes.push(ESCAPES[match[1]]);
      from = match.index + match[0].length;
    }
    pieces.push(marked.slice(from));
    if (pieces.some((piece) => piece.includes(EDGE))) return undefined;
    const once = new RenderedOnce(pieces, escapes);
    return once.with(probe) === render(probe) ? once : undefined;
  }

  /** The layout rendered with `value`. */
  with(value: string): string {
    let out = this.pieces[0];
    for (let i = 0; i < this.escapes.length; i++) out += this.escapes[i](value) + this.pieces[i + 1];
    return out;
  }
}

/** Ends the marker: a control character no layout or message holds. */
const EDGE = '\u0001';
/**
 * `/` and `&` tell the escapes apart: Mustache escapes both, the catalogs'
 * formatter the `&` alone, and plain text neither.
 */
const MARKER = `${EDGE}hole/&${EDGE}`;
const AS_IS = '/&';
const BY_MUSTACHE = '&#x2F;&amp;';
const BY_CATALOG = '/&amp;';
const MARKED = new RegExp(`${EDGE}hole(${[AS_IS, BY_MUSTACHE, BY_CATALOG].join('|')})${EDGE}`, 'g');
const ESCAPES: Readonly<Record<string, (value: string) => string>> = {
  [AS_IS]: (value) => value,
  [BY_MUSTACHE]: (value) => Mustache.escape(value),
  [BY_CATALOG]: escapeHtml,
};
