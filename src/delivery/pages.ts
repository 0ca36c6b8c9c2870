import type { Config } from '../config';
import { brandingView, logoImageSource } from './branding';
import { browserTagAliases, languageInfo } from './language-list';
import { negotiateLanguage } from './languages';
import type { Templates } from './templates';

/**
 * The pages a link opens, as the HTTP layer uses them (its `PageRenderer`):
 * the operator's templates per language, with the branding filled in.
 */
export function createPageRenderer(templates: Templates, config: Config) {
  const brand = brandingView(config, 'page');
  const { defaultLanguage } = config.email;
  const aliases = browserTagAliases(templates.languages);
  return {
    languages: templates.languages,
    languageMenu: templates.languages.map((tag) => ({ tag, name: languageInfo(tag).name, dir: languageInfo(tag).dir })),
    imageSource: logoImageSource(config),
    negotiate: (acceptLanguage: string | undefined) => negotiateLanguage(acceptLanguage, templates.languages, defaultLanguage, aliases),
    render: (page: string, language: string, view: Record<string, unknown>) =>
      templates.renderWithLanguage(`pages/${page}.html`, language, { ...brand, ...view }),
  };
}
