/** A character of base64 text (RFC 4648's alphabet, the one SMTP AUTH and HTTP Basic use). */
const BASE64_CHAR = '[A-Za-z0-9+/]';

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * What base64 text holds wherever `secret` is among the bytes it encodes:
 * the characters made of the secret's bits alone. Which they are depends
 * only on how many bytes come before it, modulo 3, so three cover every
 * place: `\0user\0pass` (AUTH PLAIN, with or without an authzid before it),
 * the password alone (AUTH LOGIN), `sid:token` (HTTP Basic). The character
 * on either side mixes in some of the secret's bits, so it goes too.
 */
function base64Patterns(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [0, 1, 2].map((before) => {
    const text = Buffer.concat([Buffer.alloc(before), bytes]).toString('base64');
    const core = text.slice(Math.ceil((8 * before) / 6), Math.floor((8 * (before + bytes.length)) / 6));
    return `${BASE64_CHAR}?${escaped(core)}${BASE64_CHAR}?={0,2}`;
  });
}

/**
 * A pattern for every form a secret can take in what a server or provider
 * answers: as it is, percent-encoded (a form body, as Vonage's carries its
 * secret), and inside base64.
 */
export function secretPattern(secrets: readonly string[]): RegExp | undefined {
  const literal = new Set<string>();
  for (const secret of secrets) {
    literal.add(secret);
    literal.add(encodeURIComponent(secret));
    literal.add(new URLSearchParams([['', secret]]).toString().slice(1));
  }
  const patterns = [...[...literal].sort((a, b) => b.length - a.length).map(escaped), ...secrets.flatMap(base64Patterns)];
  return patterns.length ? new RegExp(patterns.join('|'), 'g') : undefined;
}
