import path from 'node:path';
import { internalToken, removeDir, startModule, tempDir } from '../support/harness';
import { expectMatrixError } from '../support/spec';

it('answers a malformed %-encoding in a path parameter with 400 M_INVALID_PARAM, not a 500', async () => {
  const dir = tempDir();
  const hs = await startModule({ database: { path: path.join(dir, 'threepid.sqlite') } });
  try {
    const res = await fetch(`${hs.internalUrl}/_threepid/v1/bindings/email/%ZZ`, {
      headers: { authorization: `Bearer ${internalToken()}` },
    });
    expect(res.status).toBe(400);
    expectMatrixError(await res.json(), 'M_INVALID_PARAM');
  } finally {
    await hs.close();
    removeDir(dir);
  }
});
