import { createInProcessIssueParser, type IssueParser } from '../../src/project/issue-parser.ts';

/**
 * An issue parser that parses on this thread and records what it was asked, and answers
 * E_TOO_SLOW (as the worker does past limits.parseSeconds) for the files in `slow`: a command
 * that shows that verdict parsed through the parser it was given, not one of its own.
 */
export function createScriptedParser(slow: ReadonlySet<string> = new Set()): IssueParser & { asked: string[] } {
  const inner = createInProcessIssueParser();
  const asked: string[] = [];
  return {
    asked,
    async parse(request) {
      asked.push(`parse ${request.file}`);
      if (!slow.has(request.file)) return inner.parse(request);
      return {
        diagnostics: [
          { file: request.file, line: 7, column: 1, severity: 'error', code: 'E_TOO_SLOW', message: 'parsing took longer than 10 s (limits.parseSeconds) and was stopped here' },
        ],
      };
    },
    async render(request) {
      asked.push(`render ${request.issue.sourcePath}`);
      return inner.render(request);
    },
    close: () => inner.close(),
  };
}
