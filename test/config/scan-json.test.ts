import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lineColumnAt, scanJson } from '../../src/config/scan-json.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const SHIPPED = readFileSync(path.join(REPO_ROOT, 'config/letterpress.json'), 'utf8');

/** The error as `line:column reason`, for readable expectations. */
function errorOf(text: string): string | undefined {
  const { error } = scanJson(text);
  if (!error) return undefined;
  const { line, column } = lineColumnAt(text, error.offset);
  return `${line}:${column} ${error.reason}`;
}

describe('scanJson', () => {
  it('names a trailing comma in plain words and points at the comma', () => {
    expect(errorOf('{\n  "feed": { "limit": 20, }\n}')).toMatch(/^2:24 a trailing comma: JSON allows no comma after the last property/);
    expect(errorOf('{"a": [1, 2,\n]}')).toMatch(/^1:12 a trailing comma: JSON allows no comma after the last element/);
  });

  it('names // and /* */ comments: JSON allows none', () => {
    expect(errorOf('{\n  // the site\n  "locale": "en"\n}')).toMatch(/^2:3 a comment \(`\/\/`\): JSON allows no comments/);
    expect(errorOf('{"locale": "en" /* why */}')).toMatch(/^1:17 a comment \(`\/\*`\)/);
  });

  it('explains other syntax errors at their position', () => {
    expect(errorOf('{"a": 1\n "b": 2}')).toMatch(/^2:2 a comma is missing before this property/);
    expect(errorOf("{'a': 1}")).toMatch(/^1:2 single quotes/);
    expect(errorOf('{a: 1}')).toMatch(/^1:2 property names need double quotes \("a"\)/);
    expect(errorOf('{"a" 1}')).toMatch(/^1:6 a `:` is missing after the property name "a"/);
    expect(errorOf('{"a": "x\n"}')).toMatch(/^1:7 this string is not closed on its line/);
    expect(errorOf('{"a": 01}')).toMatch(/^1:7 not a JSON number/);
    expect(errorOf('{"a": yes}')).toMatch(/^1:7 `yes` is not a JSON value/);
    expect(errorOf('{"a": 1')).toMatch(/^1:8 the file ends inside an object/);
    expect(errorOf('{"a": 1} {"b": 2}')).toMatch(/^1:10 `\{` after the end of the JSON value/);
    expect(errorOf('  \n')).toMatch(/the file is empty/);
  });

  it('counts columns in characters, so Chinese text before the error does not shift them', () => {
    expect(errorOf('{"title": "云计算技术动态",}')).toMatch(/^1:20 a trailing comma/);
  });

  it('agrees with JSON.parse on what is valid, over many damaged copies of the shipped config', () => {
    const damage = [',', '}', ']', '"', ':', '/', ' ', '0', 'x', '\n', "'", '\\'];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 2000; round += 1) {
      const at = Math.floor(random() * SHIPPED.length);
      const text =
        random() < 0.5
          ? SHIPPED.slice(0, at) + SHIPPED.slice(at + 1)
          : SHIPPED.slice(0, at) + damage[Math.floor(random() * damage.length)] + SHIPPED.slice(at);
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      expect(scanJson(text).error === undefined, JSON.stringify(text)).toBe(valid);
    }
  });

  it('records where every key and value sits', () => {
    const text = '{\n  "site": {\n    "url": "ftp://x"\n  },\n  "list": [1, {"a": true}]\n}';
    const { error, locations } = scanJson(text);
    expect(error).toBeUndefined();
    expect(lineColumnAt(text, locations.get('site.url')!.keyOffset!)).toEqual({ line: 3, column: 5 });
    expect(lineColumnAt(text, locations.get('site.url')!.valueOffset)).toEqual({ line: 3, column: 12 });
    expect(lineColumnAt(text, locations.get('list.1.a')!.valueOffset)).toEqual({ line: 5, column: 21 });
  });
});
