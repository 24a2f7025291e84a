import { spawn } from 'node:child_process';
import { REPO_ROOT } from './temp-project.ts';

/** Another process holding the store's write lock until `release()`. */
export interface StoreLock {
  /** Ends the transaction (rolled back) and waits for the process to exit. */
  release(): Promise<void>;
}

const LOCKER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1], { fileMustExist: true });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
`;

/**
 * Starts a child \`node -e\` that opens \`file\` with better-sqlite3 and holds \`BEGIN IMMEDIATE\`
 * (the write lock), as a second Letterpress process or an operator's sqlite3 shell would.
 */
export async function holdWriteLock(file: string): Promise<StoreLock> {
  const child = spawn(process.execPath, ['-e', LOCKER, file], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}): ${stderr}`)));
  });
  return {
    async release() {
      if (child.exitCode === null) child.stdin.write('release\n');
      await exited;
    },
  };
}
