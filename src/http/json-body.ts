import express from 'express';

/** Largest JSON body accepted; requestToken bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Parses every body as JSON, whatever its Content-Type (Matrix clients do not
 * all send one), and any JSON value: the handler refuses non-objects with
 * `M_BAD_JSON`, which `strict` parsing would turn into `M_NOT_JSON`.
 */
export const jsonBody = express.json({ limit: MAX_BODY_BYTES, strict: false, type: () => true });
