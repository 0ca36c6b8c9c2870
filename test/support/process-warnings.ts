/**
 * A host without a logger is told on stderr, as a process warning, of the
 * outbox key file the module generates (`THREEPID_OUTBOX_KEY_GENERATED`).
 * Tests that want a host's stderr otherwise empty take those lines out.
 */
export function withoutKeyGeneratedWarning(stderr: string): string {
  return stderr
    .split(/(?<=\n)/)
    .filter((line) => !/\[THREEPID_OUTBOX_KEY_GENERATED\]|^\(Use `node --trace-warnings/.test(line))
    .join('');
}
