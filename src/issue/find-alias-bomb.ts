/** A top-level front-matter field whose value expands aliases too many times. */
export interface AliasBomb {
  field: string;
  /** 1-based line within the YAML source and column of the field's value. */
  line: number;
  column: number;
}

/** What an anchored collection (or a field's value) holds, and whether its extent is still open. */
interface Region {
  /** The region of each anchor aliased inside it; -1 for an alias to a scalar or to nothing. */
  targets: number[];
  /** A flow collection ends when the flow depth drops below `depth`; a block node at the first line not inside it. */
  end: { kind: 'flow'; depth: number } | { kind: 'block'; indent: number; dashes: boolean };
  open: boolean;
  /** Aliases its value expands to, counted when it closes (capped just over the limit). */
  expansion: number;
  field?: { name: string; line?: number; column?: number };
}

const ANCHOR_NAME = /[^\s,[\]{}]+/y;

/**
 * The `fields` (top-level keys) whose values would expand aliases (`*name`) more than `limit`
 * times, in file order. A scan of the YAML text, in microseconds: building the
 * document first cost the yaml package about a millisecond per file even for a 300-byte
 * alias bomb. The count is how many aliases the value becomes when every alias in it is
 * replaced by what it names, recursively: `[*a, *a]` where `a` holds three aliases counts
 * 2 × (1 + 3). It understands as much YAML as finding aliases takes (quotes, comments, block
 * scalars, flow and block collections) and errs on the side of not counting: an alias it
 * cannot place counts once and expands to nothing, and the yaml package, which enforces its
 * own alias limit, still reads whatever this lets through.
 */
export function findAliasBombs(source: string, fields: readonly string[], limit: number): AliasBomb[] {
  const regions: Region[] = [];
  const anchors = new Map<string, number>();
  const found: AliasBomb[] = [];

  const close = (region: Region) => {
    region.open = false;
    let total = 0;
    for (const target of region.targets) {
      const inner = target >= 0 && !(regions[target]?.open ?? true) ? (regions[target]?.expansion ?? 0) : 0;
      total += 1 + inner;
      if (total > limit) break;
    }
    region.expansion = Math.min(total, limit + 1);
    if (region.field && region.expansion > limit) {
      found.push({ field: region.field.name, line: region.field.line ?? 1, column: region.field.column ?? 1 });
    }
  };
  // Regions nest (a flow collection closes before the block around it), so the open ones
  // are a stack, at most as deep as the front matter's nesting (64 levels).
  const open: Region[] = [];
  const push = (region: Region) => {
    regions.push(region);
    open.push(region);
  };

  let flowDepth = 0;
  let quote: '"' | "'" | undefined;
  let blockScalarIndent: number | undefined;
  let pendingAnchor: string | undefined;
  // The field region waiting for its value's first character, for the position.
  let awaitingValue: Region | undefined;

  const lines = source.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index] ?? '';
    let indent = 0;
    while (text[indent] === ' ') indent++;
    const blank = indent === text.length;
    if (blockScalarIndent !== undefined) {
      if (blank || indent > blockScalarIndent) continue;
      blockScalarIndent = undefined;
    }
    if (quote === undefined && flowDepth === 0 && !blank && text[indent] !== '#') {
      const dash = text[indent] === '-' && (text[indent + 1] === ' ' || text[indent + 1] === undefined);
      for (let top = open.at(-1); top?.end.kind === 'block'; top = open.at(-1)) {
        const inside = indent > top.end.indent || (indent === top.end.indent && top.end.dashes && dash);
        if (inside) break;
        close(open.pop()!);
      }
    }

    let nodeStart = quote === undefined;
    let col = quote === undefined ? indent : 0;
    const mark = (at: number) => {
      if (awaitingValue?.field) {
        awaitingValue.field.line = index + 1;
        awaitingValue.field.column = at + 1;
        awaitingValue = undefined;
      }
    };
    const settleAnchorAsScalar = () => {
      if (pendingAnchor !== undefined) anchors.set(pendingAnchor, -1);
      pendingAnchor = undefined;
    };
    while (col < text.length) {
      const ch = text[col];
      if (quote !== undefined) {
        if (quote === '"' && ch === '\\') col += 2;
        else if (quote === "'" && ch === "'" && text[col + 1] === "'") col += 2;
        else {
          if (ch === quote) quote = undefined;
          col += 1;
        }
        continue;
      }
      if (ch === ' ' || ch === '\t') {
        col += 1;
        continue;
      }
      if (ch === '#' && (col === 0 || text[col - 1] === ' ' || text[col - 1] === '\t')) break;
      const spaceAfter = text[col + 1] === ' ' || text[col + 1] === '\t' || text[col + 1] === undefined;
      if (nodeStart) {
        mark(col);
        if (ch === '*' || ch === '&') {
          ANCHOR_NAME.lastIndex = col + 1;
          const name = ANCHOR_NAME.exec(text)?.[0] ?? '';
          col += 1 + name.length;
          if (ch === '&') {
            settleAnchorAsScalar();
            pendingAnchor = name;
            continue; // the anchored node follows
          }
          settleAnchorAsScalar();
          const target = anchors.get(name) ?? -1;
          for (const region of open) region.targets.push(target);
          nodeStart = false;
          continue;
        }
        if (ch === '!') {
          while (col < text.length && text[col] !== ' ' && text[col] !== '\t') col++;
          continue;
        }
        if (ch === '[' || ch === '{') {
          flowDepth += 1;
          if (pendingAnchor !== undefined) {
            anchors.set(pendingAnchor, regions.length);
            push({ targets: [], end: { kind: 'flow', depth: flowDepth }, open: true, expansion: 0 });
            pendingAnchor = undefined;
          }
          col += 1;
          continue;
        }
        if (ch === '"' || ch === "'") {
          settleAnchorAsScalar();
          quote = ch;
          nodeStart = false;
          col += 1;
          continue;
        }
        if ((ch === '|' || ch === '>') && flowDepth === 0) {
          settleAnchorAsScalar();
          blockScalarIndent = indent;
          break;
        }
        if ((ch === '-' || ch === '?') && spaceAfter && flowDepth === 0) {
          col += 1;
          continue;
        }
        settleAnchorAsScalar();
        nodeStart = false; // a plain scalar: `*` and `&` inside it are text
      }
      if (flowDepth > 0 && (ch === '[' || ch === '{')) {
        flowDepth += 1;
        nodeStart = true;
      } else if (flowDepth > 0 && ch === ',') {
        nodeStart = true;
      } else if (flowDepth > 0 && (ch === ']' || ch === '}')) {
        flowDepth -= 1;
        for (let top = open.at(-1); top?.end.kind === 'flow' && top.end.depth > flowDepth; top = open.at(-1)) {
          close(open.pop()!);
        }
      } else if (ch === ':' && (spaceAfter || flowDepth > 0)) {
        nodeStart = true;
        const key = text.slice(0, col);
        if (indent === 0 && flowDepth === 0 && fields.includes(key)) {
          awaitingValue = { targets: [], end: { kind: 'block', indent: 0, dashes: true }, open: true, expansion: 0, field: { name: key } };
          push(awaitingValue);
        }
      }
      col += 1;
    }
    // An anchor at the end of a line in block context names the block node below it.
    if (pendingAnchor !== undefined && quote === undefined && flowDepth === 0 && blockScalarIndent === undefined) {
      anchors.set(pendingAnchor, regions.length);
      const dashes = text[indent] !== '-';
      push({ targets: [], end: { kind: 'block', indent, dashes }, open: true, expansion: 0 });
      pendingAnchor = undefined;
    }
  }
  while (open.length > 0) close(open.pop()!);
  return found;
}
