import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { synapseTemplateNotes } from '../../../src/delivery/synapse-templates';

describe('notes on Synapse templates in the templates folder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'synapse-templates-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names a Synapse template with the module layout that replaces it', () => {
    writeFileSync(path.join(dir, 'registration.html'), '');
    expect(synapseTemplateNotes(dir).join('\n')).toContain("registration.html (the module's: email/registration.html)");
  });

  it('takes a file named like an object property for no Synapse template', () => {
    for (const name of ['constructor', 'toString', '__proto__']) writeFileSync(path.join(dir, name), '');
    expect(synapseTemplateNotes(dir)).toEqual([]);
  });
});
