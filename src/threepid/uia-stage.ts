import type { Flow } from '../model';
import { isThreepidError, ThreepidError, type Errcode } from './errors';
import { checkBoolean, checkFlow } from './public-arguments';
import { isThreepidStage, parseThreepidAuth, UiaRequired } from './uia';

/** The host's UIA state for one request: what its `401` body says besides the error. */
export interface UiaChallenge {
  /** The flows the endpoint offers, e.g. `[{ stages: ['m.login.email.identity'] }]`. */
  readonly flows: ReadonlyArray<{ readonly stages: readonly string[] }>;
  /** The UIA session ID the host keeps for this request. */
  readonly session: string;
  /** The stages already completed in this session. Default none. */
  readonly completed?: readonly string[];
  /** Parameters per stage type. Default `{}`. */
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface ThreepidStageRequest extends UiaChallenge {
  /** The flow the session must have been requested for. */
  readonly flow: Flow;
  /** True to spend the session (once); false to only look. */
  readonly consume: boolean;
}

/** What checks the stage: the module itself, or anything with its `checkThreepidAuth`. */
export interface ThreepidAuthChecker<Proof> {
  checkThreepidAuth(auth: unknown, flow: Flow, consume: boolean): Promise<Proof>;
}

/**
 * The errcodes that mean the client's 3PID stage failed, which UIA answers
 * with the `401` challenge carrying the error so the client can try again.
 * Anything else (`M_LIMIT_EXCEEDED`, a broken database, an identity server
 * that failed) is not the client's stage going wrong and passes through.
 */
const STAGE_FAILURES: ReadonlySet<Errcode> = new Set<Errcode>([
  'M_THREEPID_AUTH_FAILED',
  'M_SESSION_NOT_VALIDATED',
  'M_NO_VALID_SESSION',
  'M_SESSION_EXPIRED',
  'M_THREEPID_DENIED',
  'M_THREEPID_MEDIUM_NOT_SUPPORTED',
]);

/** The challenge as the host gave it, checked: a JavaScript host can pass anything. */
function checkChallenge(challenge: unknown, name: string): asserts challenge is UiaChallenge {
  const given = challenge as Partial<Record<keyof UiaChallenge, unknown>> | null | undefined;
  if (!given || typeof given !== 'object') throw new ThreepidError('M_INVALID_PARAM', `${name} must be an object with flows and session`);
  const isStageList = (value: unknown) => Array.isArray(value) && value.every((stage) => typeof stage === 'string');
  const flows = given.flows;
  if (!Array.isArray(flows) || !flows.every((flow) => flow && typeof flow === 'object' && isStageList((flow as { stages?: unknown }).stages))) {
    throw new ThreepidError('M_INVALID_PARAM', `${name}.flows must be a list of { stages: string[] }`);
  }
  if (typeof given.session !== 'string') throw new ThreepidError('M_INVALID_PARAM', `${name}.session must be a string`);
  if (given.completed !== undefined && !isStageList(given.completed)) {
    throw new ThreepidError('M_INVALID_PARAM', `${name}.completed must be a list of stage types`);
  }
  if (given.params !== undefined && (given.params === null || typeof given.params !== 'object' || Array.isArray(given.params))) {
    throw new ThreepidError('M_INVALID_PARAM', `${name}.params must be an object`);
  }
}

/** The spec's UIA `401` body: `{flows, params, session, completed}`, with `errcode`/`error` when a stage failed. */
export function uiaChallengeBody(challenge: UiaChallenge, failure?: ThreepidError): Record<string, unknown> {
  checkChallenge(challenge, 'challenge');
  return {
    ...(failure ? { errcode: failure.errcode, error: failure.message } : {}),
    flows: challenge.flows.map((flow) => ({ stages: [...flow.stages] })),
    params: { ...challenge.params },
    session: challenge.session,
    completed: [...(challenge.completed ?? [])],
  };
}

/**
 * Whether a stage of this type starts or continues one of the offered
 * flows, given what is already completed: a flow that holds it and every
 * completed stage. A stage no flow asks for proves nothing the endpoint
 * wants (a phone number where only an email address is offered).
 */
function stageIsOffered(type: string, challenge: UiaChallenge): boolean {
  const completed = challenge.completed ?? [];
  return challenge.flows.some((flow) => flow.stages.includes(type) && completed.every((done) => flow.stages.includes(done)));
}

/**
 * One `m.login.email.identity` / `m.login.msisdn` UIA stage: the 3PID the
 * request's `auth` proves, or {@link UiaRequired} carrying the `401` body the
 * spec asks for. Without a 3PID stage in `auth`, or with one that no offered
 * flow asks for (given the stages already completed), that body has no
 * errcode: the client has not attempted a stage of this endpoint. With one
 * that fails (malformed credentials, a session not validated or requested
 * for another flow, an address the policy refuses) it carries the failure's
 * errcode and error. Other errors are thrown as they are.
 *
 * ```ts
 * const proof = await requireThreepidStage(req.body.auth, { flows, session, flow: 'register', consume: true }, threepid);
 * // catch (err) { if (err instanceof UiaRequired) res.status(401).json(err.body) }
 * ```
 */
export async function requireThreepidStage<Proof>(
  auth: unknown,
  request: ThreepidStageRequest,
  checker: ThreepidAuthChecker<Proof>,
): Promise<Proof> {
  checkChallenge(request, 'request');
  checkFlow(request.flow);
  checkBoolean(request.consume, 'request.consume');
  if (!checker || typeof (checker as Partial<ThreepidAuthChecker<Proof>>).checkThreepidAuth !== 'function') {
    throw new ThreepidError('M_INVALID_PARAM', 'checker must have a checkThreepidAuth function (the module itself will do)');
  }
  const type = (auth as { type?: unknown } | null | undefined)?.type;
  if (!isThreepidStage(type) || !stageIsOffered(type, request)) throw new UiaRequired(uiaChallengeBody(request));
  try {
    parseThreepidAuth(auth);
  } catch (err) {
    throw isThreepidError(err) ? new UiaRequired(uiaChallengeBody(request, err)) : err;
  }
  try {
    return await checker.checkThreepidAuth(auth, request.flow, request.consume);
  } catch (err) {
    throw isThreepidError(err) && STAGE_FAILURES.has(err.errcode) ? new UiaRequired(uiaChallengeBody(request, err)) : err;
  }
}
