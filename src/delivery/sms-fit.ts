import { segmentUse } from './gsm7';
import type { Templates } from './templates';

/** The codes the module texts are six digits; any six give the same length. */
const SAMPLE_CODE = '000000';

/**
 * Every language whose short text message, `sms.code_short` with the
 * configured names, would not fit one segment, each as a sentence naming
 * where the string comes from. The sender falls back to the short form,
 * and then drops the one-time code line, so that form alone must fit: a
 * longer one is split in two (billed twice, and some gateways refuse a
 * concatenated UCS-2 text), which the operator can only put right by
 * shortening it, so the start is refused rather than warned of.
 */
export function textsOverOneSegment(templates: Templates, config: { readonly serverName: string; readonly sms: { readonly appName: string } }): string[] {
  const view = { app_name: config.sms.appName, server_name: config.serverName, code: SAMPLE_CODE };
  const problems: string[] = [];
  for (const language of templates.languages) {
    const text = templates.render('sms/code_short.txt', language, view).trim();
    const { used, of } = segmentUse(text);
    if (used <= of) continue;
    const source = templates.catalogs.operatorFileOf(language, 'sms.code_short') ?? `sms/code_short.txt (${language})`;
    problems.push(`${source}: sms.code_short: the ${language} text message takes ${used} of the ${of} characters of one segment even in its short form; shorten it`);
  }
  return problems;
}

/** Throws, naming every file and key, when a language's short text message would not fit one segment. */
export function checkTextsFitOneSegment(templates: Templates, config: Parameters<typeof textsOverOneSegment>[1]): void {
  const problems = textsOverOneSegment(templates, config);
  if (problems.length > 0) throw new Error(problems.join('\n'));
}
