import { expectMatrixError, expectResponseMatchesSpec, loadOperation } from '../../support/spec';

const REG = 'client-server/registration.yaml';
const EMAIL_TOKEN = '/register/email/requestToken';

describe('spec response validation helper', () => {
  it('loads an operation by file, path template and method', () => {
    expect(loadOperation(REG, EMAIL_TOKEN, 'POST').operationId).toBe('requestTokenToRegisterEmail');
    expect(() => loadOperation(REG, '/nope', 'post')).toThrow(/not in client-server\/registration.yaml/);
  });

  describe('POST /register/email/requestToken', () => {
    it('accepts a valid 200 body', () => {
      expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 200, { sid: 'abc' });
      expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 200, {
        sid: 'abc',
        submit_url: 'https://example.org/submitToken',
      });
    });

    it('rejects a wrongly typed sid', () => {
      expect(() => expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 200, { sid: 5 })).toThrow(
        /\/sid must be string/,
      );
    });

    it('rejects a body without the required sid', () => {
      expect(() => expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 200, {})).toThrow(
        /must have required property 'sid'/,
      );
    });

    it('checks formats (submit_url is a uri)', () => {
      expect(() =>
        expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 200, { sid: 'abc', submit_url: 'not a uri' }),
      ).toThrow(/submit_url must match format "uri"/);
    });

    it('accepts a documented 400 error body', () => {
      expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 400, { errcode: 'M_THREEPID_IN_USE', error: 'x' });
    });

    it('throws for an undocumented status', () => {
      expect(() => expectResponseMatchesSpec(REG, EMAIL_TOKEN, 'post', 418, {})).toThrow(
        /Status 418 is not documented.*documented: 200, 400, 403/,
      );
    });
  });

  describe('GET /versions', () => {
    const VERSIONS = 'client-server/versions.yaml';

    it('accepts a valid body', () => {
      expectResponseMatchesSpec(VERSIONS, '/versions', 'GET', 200, {
        versions: ['v1.1'],
        unstable_features: { 'm.require_identity_server': false },
      });
    });

    it('rejects non-boolean unstable features', () => {
      expect(() =>
        expectResponseMatchesSpec(VERSIONS, '/versions', 'GET', 200, {
          versions: ['v1.1'],
          unstable_features: { x: 'notbool' },
        }),
      ).toThrow(/\/unstable_features\/x must be boolean/);
    });
  });

  describe('identity service', () => {
    it('validates GET /3pid/getValidated3pid across ../client-server refs', () => {
      const file = 'identity/v2_associations.yaml';
      expectResponseMatchesSpec(file, '/3pid/getValidated3pid', 'get', 200, {
        medium: 'email',
        address: 'louise@bobs.burgers',
        validated_at: 1457622739026,
      });
      expectResponseMatchesSpec(file, '/3pid/getValidated3pid', 'get', 400, { errcode: 'M_SESSION_NOT_VALIDATED' });
      expect(() =>
        expectResponseMatchesSpec(file, '/3pid/getValidated3pid', 'get', 200, { medium: 'email' }),
      ).toThrow(/validated_at/);
    });

    it('falls back to "4XX"-style response keys', () => {
      const file = 'identity/v2_email_associations.yaml';
      const op = loadOperation(file, '/validate/email/submitToken', 'get');
      expect(Object.keys(op.responses as object)).toContain('4XX');
      // "4XX" documents no body schema, so any body is accepted; 500 is not documented.
      expectResponseMatchesSpec(file, '/validate/email/submitToken', 'get', 404, 'Not found');
      expect(() => expectResponseMatchesSpec(file, '/validate/email/submitToken', 'get', 500, {})).toThrow(
        /not documented/,
      );
    });
  });

  it('handles allOf through a $ref (rate_limited.yaml extends error.yaml)', () => {
    expectResponseMatchesSpec(REG, '/register', 'post', 429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 2000 });
    expect(() =>
      expectResponseMatchesSpec(REG, '/register', 'post', 429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 'soon' }),
    ).toThrow(/retry_after_ms must be integer/);
    expect(() => expectResponseMatchesSpec(REG, '/register', 'post', 429, { retry_after_ms: 1 })).toThrow(
      /required property 'errcode'/,
    );
  });

  describe('expectMatrixError', () => {
    it('passes for a matching error', () => {
      expectMatrixError({ errcode: 'M_THREEPID_IN_USE', error: 'x' }, 'M_THREEPID_IN_USE');
    });

    it('fails for a different errcode or a non-error body', () => {
      expect(() => expectMatrixError({ errcode: 'M_UNKNOWN' }, 'M_THREEPID_IN_USE')).toThrow(
        /Expected errcode M_THREEPID_IN_USE but got M_UNKNOWN/,
      );
      expect(() => expectMatrixError({ error: 'x' }, 'M_UNKNOWN')).toThrow(/required property 'errcode'/);
      expect(() => expectMatrixError({ errcode: 1 }, 'M_UNKNOWN')).toThrow(/\/errcode must be string/);
    });
  });
});
