import { describe, expect, it } from 'vitest';
import { bindParameters, compileNamedParameters } from '../../src/store/named-parameters.ts';

describe('compileNamedParameters', () => {
  it('numbers each name once, in order of first use, and leaves casts, literals and comments alone', () => {
    const query = compileNamedParameters(
      "-- holder (`host:pid:random`) is :notAParameter here\nSELECT :a::text, :b, :a || 'x:y', '{}'::jsonb FROM t WHERE c = :b -- :trailing\n",
    );
    expect(query.text).toBe("SELECT $1::text, $2, $1 || 'x:y', '{}'::jsonb FROM t WHERE c = $2 ");
    expect(query.names).toEqual(['a', 'b']);
  });

  it('binds by name, undefined as NULL, and refuses a missing name', () => {
    const query = compileNamedParameters('SELECT :id, :name');
    expect(bindParameters(query, { id: 7, name: undefined })).toEqual([7, null]);
    expect(() => bindParameters(query, { id: 7 })).toThrow(expect.objectContaining({ code: 'E_INTERNAL' }));
  });
});
