/**
 * A host without a logger is told on stderr, as process warnings, of the
 * outbox key file the module generates (`THREEPID_OUTBOX_KEY_GENERATED`)
 * and of texts written to files by the development SMS sender
 * (`THREEPID_SMS_TO_FILES`, SMS being on by default).
 * Tests that want a host's stderr otherwise empty take those lines out.
 */
export function withoutKeyGeneratedWarning(stderr: string): string {
  return stderr
    .split(/(?<=\n)/)
    .filter((line) => !/\[THREEPID_(OUTBOX_KEY_GENERATED|SMS_TO_FILES)\]|^\(Use `node --trace-warnings/.test(line))
    .join('');
}
