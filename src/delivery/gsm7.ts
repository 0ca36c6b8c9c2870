/**
 * GSM 03.38's default alphabet (the 7-bit basic set, less the escape that
 * leads into the extension table) and its extension table: a text written
 * in these alone goes as GSM-7, 160 characters to a segment (an extension
 * character counts as two); anything else makes the whole text UCS-2, 70
 * to a segment.
 */
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const EXTENSION = '\f^{}\\[~]|€';

export const GSM7_BASIC: ReadonlySet<string> = new Set(BASIC);
export const GSM7_EXTENSION: ReadonlySet<string> = new Set(EXTENSION);

/** True when every character of `text` is in the GSM-7 basic set or its extension table. */
export function isGsm7(text: string): boolean {
  for (const char of text) {
    if (!GSM7_BASIC.has(char) && !GSM7_EXTENSION.has(char)) return false;
  }
  return true;
}

/**
 * How much of one segment a text takes: GSM-7 septets out of 160 (an
 * extension character takes an escape and itself), or, when a character is
 * outside GSM-7, UCS-2 code units out of 70.
 */
export function segmentUse(text: string): { used: number; of: number } {
  if (!isGsm7(text)) return { used: text.length, of: 70 };
  let used = 0;
  for (const char of text) used += GSM7_EXTENSION.has(char) ? 2 : 1;
  return { used, of: 160 };
}

/** True when `text` goes as one SMS segment. */
export function fitsOneSegment(text: string): boolean {
  const { used, of } = segmentUse(text);
  return used <= of;
}
