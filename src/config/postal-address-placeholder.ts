/**
 * What the footer says when no postal address is configured; the preflight treats it as
 * missing. In a file of its own so the preflight can name it without loading the schema (zod).
 */
export const POSTAL_ADDRESS_PLACEHOLDER = 'Postal address not configured';
