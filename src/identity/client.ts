import { IdentityServerError } from '../model';
import http from 'node:http';
import https from 'node:https';
import type { Medium } from '../model';
import { IdentityCallRefused, type IdentityServerApi } from '../threepid/ports';
import { ACCESS_TOKEN_PATTERN } from '../threepid/request-body';
import { AddressGuard, BlockedAddressError } from './address-guard';

export { IdentityServerError } from '../model';

export interface IdentityClientSettings {
  /** Plain http to identity servers: tests and development only. */
  readonly allowHttp: boolean;
  /** CIDR ranges that may be called although they are not public (`ip_range_whitelist`). */
  readonly ipRangeWhitelist: readonly string[];
  /** The whole call, connection included. */
  readonly timeoutMs: number;
  /** Answers larger than this are refused. */
  readonly maxResponseBytes: number;
}

export { isBareHost } from '../hosts';

const upstreamFailure = (status: 502 | 504, error: string) =>
  new IdentityServerError(status, { errcode: 'M_UNKNOWN', error });

/**
 * Calls an identity server's v2 API. Every call is guarded: the address
 * connected to must be allowed (see {@link AddressGuard}), redirects are not
 * followed, the whole call has a deadline, and the answer has a size cap.
 */
export class IdentityServerClient implements IdentityServerApi {
  private readonly guard: AddressGuard;

  constructor(private readonly settings: IdentityClientSettings) {
    this.guard = new AddressGuard(settings.ipRangeWhitelist);
  }

  /** `POST /_matrix/identity/v2/validate/{medium}/requestToken`; answers the IS's `sid`. */
  async requestToken(idServer: string, medium: Medium, body: object, accessToken: string): Promise<{ sid: string }> {
    const answer = await this.call(idServer, 'POST', `/_matrix/identity/v2/validate/${medium}/requestToken`, accessToken, body);
    if (typeof answer.sid !== 'string' || !/^[0-9a-zA-Z.=_-]{1,255}$/.test(answer.sid)) {
      throw upstreamFailure(502, 'The identity server gave an invalid session ID');
    }
    return { sid: answer.sid };
  }

  /** `GET /_matrix/identity/v2/3pid/getValidated3pid`. */
  async getValidated3pid(
    idServer: string,
    sid: string,
    clientSecret: string,
    accessToken: string,
  ): Promise<{ medium: string; address: string; validatedAt: number }> {
    const query = new URLSearchParams({ sid, client_secret: clientSecret });
    const answer = await this.call(idServer, 'GET', `/_matrix/identity/v2/3pid/getValidated3pid?${query}`, accessToken);
    if (typeof answer.medium !== 'string' || typeof answer.address !== 'string' || typeof answer.validated_at !== 'number') {
      throw upstreamFailure(502, 'The identity server gave an invalid answer');
    }
    return { medium: answer.medium, address: answer.address, validatedAt: answer.validated_at };
  }

  private call(
    idServer: string,
    method: 'GET' | 'POST',
    path: string,
    accessToken: string,
    body?: object,
  ): Promise<Record<string, unknown>> {
    // Checked where the token is read; checked again here, where it becomes a header.
    if (!ACCESS_TOKEN_PATTERN.test(accessToken)) {
      return Promise.reject(new IdentityCallRefused('bad-access-token', 'id_access_token may contain only visible ASCII characters'));
    }
    const url = new URL(`${this.settings.allowHttp ? 'http' : 'https'}://${idServer}${path}`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is connected to without a lookup, so it is checked here.
    if (/^[\d.]+$|:/.test(host) && !this.guard.allows(host)) {
      return Promise.reject(new IdentityCallRefused('address-not-allowed', 'The identity server address is not allowed'));
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const transport = url.protocol === 'https:' ? https : http;

    return new Promise((resolve, reject) => {
      const request = transport.request(url, {
        method,
        lookup: this.guard.lookup as never,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${accessToken}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      });
      const deadline = setTimeout(() => {
        request.destroy();
        reject(upstreamFailure(504, 'The identity server did not answer in time'));
      }, this.settings.timeoutMs);
      const fail = (err: unknown) => {
        clearTimeout(deadline);
        reject(err);
      };

      request.on('error', (err) => {
        if (err instanceof BlockedAddressError || (err as { code?: string }).code === 'EBLOCKEDADDRESS') {
          fail(new IdentityCallRefused('address-not-allowed', 'The identity server address is not allowed'));
        } else {
          fail(upstreamFailure(502, 'The identity server could not be reached'));
        }
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          response.destroy();
          return fail(upstreamFailure(502, 'The identity server answered with a redirect'));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.settings.maxResponseBytes) {
            response.destroy();
            request.destroy();
            return fail(upstreamFailure(502, 'The identity server answer is too large'));
          }
          chunks.push(chunk);
        });
        response.on('error', () => fail(upstreamFailure(502, 'The identity server connection failed')));
        response.on('end', () => {
          if (size > this.settings.maxResponseBytes) return;
          clearTimeout(deadline);
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(upstreamFailure(502, 'The identity server gave an answer that is not JSON'));
          }
          const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
          if (status >= 200 && status < 300 && isObject) return resolve(parsed as Record<string, unknown>);
          if (status >= 400 && isObject && typeof (parsed as { errcode?: unknown }).errcode === 'string') {
            // A Matrix error from the identity server is the client's to see, unchanged.
            return reject(new IdentityServerError(status, parsed as IdentityServerError['body']));
          }
          reject(upstreamFailure(502, 'The identity server gave an unexpected answer'));
        });
      });
      request.end(payload);
    });
  }
}
