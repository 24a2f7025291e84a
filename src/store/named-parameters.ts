import { LetterpressError } from '../util/errors.ts';

/**
 * The `.sql` files name their parameters (`:issueSlug`), as SQLite reads them; node-postgres
 * takes positional ones (`$1`). A query is compiled once, when the store opens, into its text
 * and the parameter name behind each position, so the call sites pass one object, as on SQLite.
 */
export interface CompiledQuery {
  text: string;
  names: readonly string[];
  /** A name to prepare the statement under, once per connection (node-postgres `name`); unset: parsed on every call. */
  prepareAs?: string;
}

/** `:name` not preceded by a colon or a word character (so `::text` casts and `a:b` stay). */
const NAMED_PARAMETER = /(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g;

export function compileNamedParameters(sql: string): CompiledQuery {
  // Comments may hold anything (`host:pid`); they never reach the server.
  const code = sql
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .filter((line) => line.trim() !== '')
    .join('\n');
  const names: string[] = [];
  const text = code.replace(NAMED_PARAMETER, (_match, name: string) => {
    let index = names.indexOf(name);
    if (index === -1) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text, names };
}

/** The positional values of a compiled query; a name the caller did not pass is a bug, caught here. */
export function bindParameters(query: CompiledQuery, params: Readonly<Record<string, unknown>>): unknown[] {
  return query.names.map((name) => {
    if (!(name in params)) throw new LetterpressError('E_INTERNAL', `query parameter :${name} was not given`);
    const value = params[name];
    return value === undefined ? null : value;
  });
}
