// Regression: client IPs from a trusted proxy's X-Forwarded-For were used as
// raw strings, so `::ffff:10.7.7.7`, `10.7.7.07` and `10.7.7.7:1234` each got
// a fresh rate-limit bucket after `10.7.7.7` was limited, and an IPv6 client
// had a whole /64 of buckets. Addresses are now normalised (IPv4-mapped IPv6
// is IPv4), IPv6 clients are keyed by their /64, and a forwarded address that
// does not parse is refused with 400 (no bucket at all for it).
import path from 'node:path';
import { post, removeDir, startModule, tempDir, type Running } from '../support/harness';

let dir: string;
let hs: Running;
let n = 0;

beforeAll(async () => {
  dir = tempDir();
  hs = await startModule({
    database: { path: path.join(dir, 'threepid.sqlite') },
    trusted_proxies: ['127.0.0.1'],
    // One request per client IP; the per-address bucket never matters (each request names a fresh address).
    rc_3pid_validation: { per_second: 0.0001, burst_count: 1 },
  });
});

afterAll(async () => {
  await hs.close();
  removeDir(dir);
});

const from = (forwardedFor: string) =>
  post(
    `${hs.url}/_matrix/client/v3/register/email/requestToken`,
    { client_secret: 'cs', email: `user${++n}@example.org`, send_attempt: 1 },
    { 'x-forwarded-for': forwardedFor },
  );

it('counts an IPv4 client and its IPv4-mapped IPv6 form as one', async () => {
  expect((await from('10.7.7.7')).status).toBe(200);
  expect((await from('10.7.7.7')).status).toBe(429);
  expect((await from('::ffff:10.7.7.7')).status).toBe(429);
  expect((await from('::FFFF:0a07:0707')).status).toBe(429);
  expect((await from('0:0:0:0:0:ffff:10.7.7.7')).status).toBe(429);
});

it.each([['10.7.7.07'], ['10.7.7.7:1234'], ['010.7.7.7'], ['10.7.7'], ['not-an-ip'], ['[2001:db8::1]:443'], ['0x0a.7.7.7'], ['10.7.7.7%eth0']])(
  'refuses a forwarded address that does not parse (%s) with 400, taking no bucket',
  async (value) => {
    const res = await from(value);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  },
);

it('keys IPv6 clients by their /64', async () => {
  expect((await from('2001:db8:1:2::1')).status).toBe(200);
  expect((await from('2001:db8:1:2:ffff:ffff:ffff:fffe')).status).toBe(429);
  expect((await from('2001:DB8:1:2:0:0:0:77')).status).toBe(429);
  // Another /64 is another client.
  expect((await from('2001:db8:1:3::1')).status).toBe(200);
});
