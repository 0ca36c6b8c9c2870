import path from 'node:path';
import { loadConfigFile, parseConfig } from '../../src/config';

describe('config.sample.yaml', () => {
  it('parses, and the values it shows are the defaults', () => {
    const sample = loadConfigFile(path.resolve(__dirname, '../../config.sample.yaml'));
    expect(sample).toEqual(parseConfig({}));
  });
});
