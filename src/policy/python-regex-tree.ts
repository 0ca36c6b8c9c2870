// The parsed shape of a Python pattern, shared by the translation and the example generator.

/** A pattern that cannot run as Python would run it; the message says what and why, for the config error. */
export class PatternError extends Error {
  override readonly name = 'PatternError';
}

/** Python's inline flags in force at a point of the pattern (`a` is `re.ASCII`; Unicode is the default). */
export interface Flags {
  readonly i: boolean;
  readonly m: boolean;
  readonly s: boolean;
  readonly a: boolean;
}

export type Shorthand = 'd' | 'D' | 'w' | 'W' | 's' | 'S';
export type SetItem = { readonly lo: number; readonly hi: number } | { readonly shorthand: Shorthand };
export type Anchor = '^' | '$' | 'A' | 'Z' | 'b' | 'B';

/** The pattern as Python's parser reads it; shorthands outside a class are one-item sets. */
export type Node =
  | { readonly kind: 'char'; readonly cp: number; readonly flags: Flags }
  | { readonly kind: 'set'; readonly negated: boolean; readonly items: SetItem[]; readonly flags: Flags }
  | { readonly kind: 'dot'; readonly flags: Flags }
  | { readonly kind: 'anchor'; readonly which: Anchor; readonly flags: Flags }
  | { readonly kind: 'group'; readonly capture: boolean; readonly name?: string; readonly flags: Flags; readonly body: Node }
  | { readonly kind: 'repeat'; readonly min: number; readonly max: number; readonly lazy: boolean; readonly body: Node }
  | { readonly kind: 'seq'; readonly items: Node[] }
  | { readonly kind: 'alt'; readonly branches: Node[] };

export interface Parsed {
  readonly flags: Flags;
  readonly root: Node;
}
