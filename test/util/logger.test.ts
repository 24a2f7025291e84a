import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.ts';

describe('readable log lines', () => {
  it('show an escape sequence or CR/LF in a message escaped, on one line; JSON lines stay exact', () => {
    const pretty: string[] = [];
    createLogger({ write: (line) => void pretty.push(line), pretty: true }).info('sent Evil\r\nforged \u001b[2J title');
    expect(pretty).toHaveLength(1);
    expect(pretty[0]).toContain('sent Evil\\r\\nforged \\x1b[2J title');
    expect(pretty[0]).not.toContain('\u001b[2J');
    expect(pretty[0]!.trimEnd().split('\n')).toHaveLength(1);

    const json: string[] = [];
    createLogger({ write: (line) => void json.push(line), pretty: false }).info('sent Evil\r\nforged \u001b[2J title');
    expect((JSON.parse(json[0]!) as { msg: string }).msg).toBe('sent Evil\r\nforged \u001b[2J title');
  });
});
