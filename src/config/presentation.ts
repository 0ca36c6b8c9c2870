import { z } from 'zod';
import { section, type Report } from './common';
import { synapse } from './doc-marks';

/** An https URL without credentials, or a path on the public server (`/static/logo.png`, not `//host/…`). */
function isLogoUrl(value: string): boolean {
  if (/^\/(?!\/)[^\s"'<>\\]*$/.test(value)) return true;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && !/[\s"'<>]/.test(value);
  } catch {
    return false;
  }
}

function isSupportUrl(value: string): boolean {
  try {
    return ['https:', 'http:', 'mailto:'].includes(new URL(value).protocol) && !/[\s"'<>]/.test(value);
  } catch {
    return false;
  }
}

/** `branding`: shown on the pages and in HTML emails. */
export const BRANDING = section(
  z
    .object({
      logo_url: z
        .string()
        .refine(isLogoUrl, 'must be an https URL or a path such as /static/logo.png')
        .optional()
        .describe('The logo: an https URL, or a path on this server (`/static/logo.png`). The pages\' Content-Security-Policy allows images from that one origin.'),
      accent_color: z
        .string()
        .regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a colour written #rrggbb or #rgb')
        .optional()
        .describe('The colour of buttons and links, `#rrggbb` or `#rgb`. Unset: #2456c5.'),
      support_url: z
        .string()
        .refine(isSupportUrl, 'must be an https, http or mailto URL')
        .optional()
        .describe('A "Need help?" link under every page and email: https, http or mailto.'),
    })
    .strict()
    .default({}),
);

export function toBranding(raw: z.output<typeof BRANDING>) {
  return {
    /** An https URL, or a path on the public server. */
    logoUrl: raw.logo_url,
    /** `#rrggbb` or `#rgb`. */
    accentColor: raw.accent_color,
    supportUrl: raw.support_url,
  };
}

/** `templates` (Synapse's name for the folder's key). */
export const TEMPLATES = section(
  z
    .object({
      custom_template_directory: synapse(z.string().min(1).optional().describe('Synapse\'s name for `templates_dir`: a folder of templates overriding the shipped ones.')),
    })
    .strict()
    .default({}),
);

/** The templates folder, by any of its three names (they must agree). */
export function templatesDir(
  c: { templates_dir?: string; templates: { custom_template_directory?: string }; email: { template_dir?: string } },
  report: Report,
): string | undefined {
  const named = [
    ['templates_dir', c.templates_dir],
    ['templates.custom_template_directory', c.templates.custom_template_directory],
    ['email.template_dir', c.email.template_dir],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (new Set(named.map(([, dir]) => dir)).size > 1) {
    report(named[1][0], `names another folder than ${named[0][0]}: set one of them`);
  }
  return named[0]?.[1];
}
