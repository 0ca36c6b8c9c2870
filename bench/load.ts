import autocannon from 'autocannon';

/** One kind of request, with a body made fresh for each request when `body` is set. */
export interface RequestSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: () => string;
}

export interface LoadResult {
  /** Mean of the per-second request counts. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly seconds: number;
}

/**
 * Fires `spec` at `url` from `connections` keep-alive connections, for
 * `seconds` or until `amount` requests are done. Any error, timeout or
 * non-2xx answer fails the run: the figures would not be about the route.
 */
export async function runLoad(
  url: string,
  spec: RequestSpec,
  options: { connections: number; seconds?: number; amount?: number; expectStatus?: number },
): Promise<LoadResult> {
  const { body } = spec;
  const result = await autocannon({
    url,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.seconds } : { amount: options.amount }),
    requests: [
      {
        method: spec.method,
        path: spec.path,
        ...(body && {
          headers: { 'content-type': 'application/json' },
          setupRequest: (request: autocannon.Request) => ({ ...request, body: body() }),
        }),
      },
    ],
  });
  // A flood that is meant to be refused expects its refusal (and the few answers its burst lets through).
  const expected = options.expectStatus === undefined ? 0 : (result.statusCodeStats?.[String(options.expectStatus) as `${number}`]?.count ?? 0);
  const failed = result.errors + result.timeouts + result.non2xx - expected;
  if (failed > 0 || (options.expectStatus !== undefined && expected === 0)) {
    const statuses = Object.entries(result.statusCodeStats ?? {})
      .map(([code, stats]) => `${code}×${stats.count ?? 0}`)
      .join(' ');
    throw new Error(
      `${spec.method} ${spec.path}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx (${statuses})`,
    );
  }
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    seconds: result.duration,
  };
}
