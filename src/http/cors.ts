import type { RequestHandler } from 'express';

/**
 * The headers the client-server spec asks of every client endpoint, so that
 * web clients on any origin can call it ("Web Browser Clients").
 */
export const CLIENT_SERVER_CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
});

const CORS_HEADER_ENTRIES = Object.entries(CLIENT_SERVER_CORS_HEADERS);

/**
 * CORS for a listener clients reach: every answer (errors and 404s too)
 * carries the spec's headers, and a preflight `OPTIONS` on any path answers
 * 200 with no body. Mount it first, before any router. Never on the internal
 * listener: browsers have no business there.
 */
export const clientServerCors: RequestHandler = (req, res, next) => {
  // Plain setHeader: res.set would look at each value for a Content-Type's charset.
  for (const [name, value] of CORS_HEADER_ENTRIES) res.setHeader(name, value);
  if (req.method === 'OPTIONS') {
    res.status(200).end();
    return;
  }
  next();
};
