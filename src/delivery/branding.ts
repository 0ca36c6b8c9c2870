import type { Config } from '../config';

/** The accent colour when the operator sets none: a blue that white text reads well on. */
export const DEFAULT_ACCENT_COLOR = '#2456c5';
const TEXT_COLOR = '#17191c';

/** `#rgb` or `#rrggbb` (validated by the config) as 0..1 channels. */
function channels(color: string): [number, number, number] {
  const hex = color.length === 4 ? [...color.slice(1)].map((digit) => digit + digit).join('') : color.slice(1);
  return [0, 2, 4].map((at) => parseInt(hex.slice(at, at + 2), 16) / 255) as [number, number, number];
}

/** WCAG relative luminance. */
function luminance(color: string): number {
  const [r, g, b] = channels(color).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

/**
 * What templates get to show the operator's brand: `logo_url` (absolute in
 * emails, which are read far from the server), `accent_color` with the text
 * colour that reads on it (`accent_text_color`), `link_color` (the accent
 * when it reads on white, else the text colour), and `support_url`.
 */
export function brandingView(config: Config, audience: 'page' | 'email'): Record<string, string | undefined> {
  const { logoUrl, accentColor = DEFAULT_ACCENT_COLOR, supportUrl } = config.branding;
  const logo = logoUrl && audience === 'email' && logoUrl.startsWith('/') ? new URL(logoUrl, config.publicBaseurl).href : logoUrl;
  return {
    app_name: config.email.appName,
    server_name: config.serverName,
    logo_url: logo,
    accent_color: accentColor,
    accent_text_color: contrast(accentColor, '#ffffff') >= contrast(accentColor, TEXT_COLOR) ? '#ffffff' : TEXT_COLOR,
    link_color: contrast(accentColor, '#ffffff') >= 4.5 ? accentColor : TEXT_COLOR,
    support_url: supportUrl,
  };
}

/** The one image source the pages' CSP allows: `'self'` for a logo on this server, else the logo's origin. */
export function logoImageSource(config: Config): string | undefined {
  const { logoUrl } = config.branding;
  if (!logoUrl) return undefined;
  return logoUrl.startsWith('/') ? "'self'" : new URL(logoUrl).origin;
}
