import type { Request } from 'express';
import { parseConfig } from '../../../src/config';
import { createPageRenderer } from '../../../src/delivery/pages';
import { Templates } from '../../../src/delivery/templates';
import { requestLanguageResolver } from '../../../src/http/link-page';

const config = parseConfig({ public_baseurl: 'https://matrix.example.org/' });
const pages = createPageRenderer(new Templates(config.templatesDir, config.email.defaultLanguage), config);
const asking = (acceptLanguage: string | undefined) => ({ headers: acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage } }) as Request;

/** The real renderer, counting its negotiations. */
function counted() {
  const asked: Array<string | undefined> = [];
  return { asked, renderer: { ...pages, negotiate: (header: string | undefined) => (asked.push(header), pages.negotiate(header)) } };
}

describe('requestLanguageResolver', () => {
  const languages = pages.languages;
  const headers = [
    undefined,
    '',
    'en',
    ...languages.map((tag) => `${tag};q=0.9, en;q=0.1`),
    'xx-YY, zz;q=0.5',
    `${'x'.repeat(300)}, ${languages[languages.length - 1]}`,
    ...Array.from({ length: 600 }, (_, i) => `${languages[i % languages.length]}-X${i};q=0.${i % 9}, ${languages[(i * 7) % languages.length]};q=0.${(i % 8) + 1}`),
  ];

  it('answers what negotiating each time answers, in any order, past the number of values it keeps', () => {
    const resolve = requestLanguageResolver(pages);
    for (const round of [headers, [...headers].reverse(), headers]) {
      for (const header of round) expect(resolve(asking(header))).toBe(pages.negotiate(header));
    }
  });

  it('negotiates a value once while it is kept, and a value longer than it keeps each time', () => {
    const { asked, renderer } = counted();
    const resolve = requestLanguageResolver(renderer);
    const long = `${'x-'.repeat(200)}en`;
    for (let i = 0; i < 3; i++) {
      resolve(asking('fr-CA, fr;q=0.9, en;q=0.5'));
      resolve(asking(long));
    }
    expect(asked).toEqual(['fr-CA, fr;q=0.9, en;q=0.5', long, long, long]);
  });
});
