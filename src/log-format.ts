/**
 * The pretty log format: one line a record, `time LEVEL message key=value…`.
 * A dozen lines of our own rather than pino-pretty, which would bring a
 * dependency tree into every install for what a person reads at a terminal.
 */
const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Fields every record has, shown in the line's head rather than as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function shown(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** One of pino's JSON lines as a person reads it; a line that is not JSON passes unchanged. */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString() : '';
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !HEAD.has(key))
    .map(([key, value]) => `${key}=${shown(value)}`);
  return `${[time, level, record.msg ?? '', ...fields].filter((part) => part !== '').join(' ')}\n`;
}
