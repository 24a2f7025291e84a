import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ENV_SHORTCUTS, findUnknownEnvVariables, listKnownEnvNames, loadConfig } from '../../src/config/load-config.ts';
import { configSchema } from '../../src/config/schema.ts';
import { main, type CliIo } from '../../src/cli/main.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const DEPLOY = path.join(REPO_ROOT, 'deploy');
const SYSTEMD = path.join(DEPLOY, 'systemd');
const DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
const UNIT_FILES = readdirSync(SYSTEMD).filter((name) => /\.(service|path)$/.test(name)).sort();
const DEFAULTS = configSchema.parse({});

/** Each role's unit, the command it runs, and the drain its stop timeout must outlast. */
const ROLE_UNITS = [
  {
    role: 'web',
    file: 'letterpress-web.service',
    args: ['start', '--role', 'web'],
    // Requests in flight, then the queued emails in flight, each up to this key.
    drainSeconds: 2 * DEFAULTS.server.shutdownTimeoutSeconds,
    writes: ['/srv/letterpress/data'],
  },
  {
    role: 'scheduler',
    file: 'letterpress-scheduler.service',
    args: ['start', '--role', 'scheduler'],
    drainSeconds: DEFAULTS.schedule.shutdownTimeoutSeconds,
    writes: ['/srv/letterpress/data', '/srv/letterpress/out'],
  },
  {
    role: 'worker',
    file: 'letterpress-worker@.service',
    args: ['worker'],
    drainSeconds: DEFAULTS.schedule.shutdownTimeoutSeconds,
    writes: ['/srv/letterpress/data'],
  },
] as const;

/** The node the units name; the verify copies point at this test's own node instead. */
const UNIT_NODE = '/usr/bin/node';
const UNIT_BIN = '/opt/letterpress/bin/letterpress';

type UnitFile = Map<string, Map<string, string[]>>;

/** `[Section]` → key → every value in order (systemd keys may repeat). */
function parseUnit(text: string): UnitFile {
  const sections: UnitFile = new Map();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const equals = line.indexOf('=');
    if (!current || equals === -1) throw new Error(`not a unit line: ${raw}`);
    const key = line.slice(0, equals).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(equals + 1).trim()]);
  }
  return sections;
}

function unitValue(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

function readUnit(file: string): UnitFile {
  return parseUnit(readFileSync(path.join(SYSTEMD, file), 'utf8'));
}

/** The executable `name` on PATH, or undefined. */
function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const SYSTEMD_ANALYZE = findOnPath('systemd-analyze');

/**
 * `systemd-analyze verify` on unit files in `dir`. It exits 0 on unknown keys and unparsable
 * values, only warning, so the lines that name one of the files count as failures too; lines
 * about the host (a container without cgroups, say) do not.
 */
async function verifyUnits(dir: string, names: readonly string[]): Promise<{ exitCode: number; complaints: string[] }> {
  let exitCode = 0;
  let output: string;
  try {
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE!, ['verify', '--man=no', '--recursive-errors=no', ...names.map((name) => path.join(dir, name))], { cwd: dir });
    output = `${stdout}${stderr}`;
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    exitCode = typeof failed.code === 'number' ? failed.code : 1;
    output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
  // Every unit here is named letterpress-…, and so is the temp dir they are verified in.
  const complaints = output.split('\n').filter((line) => line.includes('letterpress-'));
  return { exitCode, complaints };
}

let work: string | undefined;
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The units copied to a temp dir, their node swapped for this one (verify needs ExecStart's binary to exist). */
async function copyUnits(): Promise<string> {
  work ??= await mkdtemp(path.join(tmpdir(), 'letterpress-units-'));
  for (const name of UNIT_FILES) {
    const text = readFileSync(path.join(SYSTEMD, name), 'utf8');
    await writeFile(path.join(work, name), text.replaceAll(`ExecStart=${UNIT_NODE} `, `ExecStart=${process.execPath} `));
  }
  // An instance of the template too, so %i is expanded as systemd would.
  await copyFile(path.join(work, 'letterpress-worker@.service'), path.join(work, 'letterpress-worker@1.service'));
  return work;
}

describe('the systemd units (systemd-analyze verify)', () => {
  it('can be checked here: systemd-analyze is on PATH (.ci/run installs systemd)', () => {
    expect(SYSTEMD_ANALYZE, 'systemd-analyze is not on PATH (Debian: apt-get install systemd)').toBeTruthy();
  });

  it('are accepted without a complaint, the worker template and an instance of it included', async () => {
    const dir = await copyUnits();
    const result = await verifyUnits(dir, [...UNIT_FILES, 'letterpress-worker@1.service']);
    expect(result.complaints).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it('would be refused with a bad value or a missing program (the check itself works)', async () => {
    const dir = await copyUnits();
    const web = readFileSync(path.join(dir, 'letterpress-web.service'), 'utf8');
    await writeFile(path.join(dir, 'letterpress-badvalue.service'), web.replace('Restart=on-failure', 'Restart=sometimes'));
    await writeFile(path.join(dir, 'letterpress-noprogram.service'), web.replace(`ExecStart=${process.execPath} `, 'ExecStart=/nonexistent/node '));
    const badValue = await verifyUnits(dir, ['letterpress-badvalue.service']);
    expect(badValue.complaints.join('\n')).toMatch(/restart/i);
    const noProgram = await verifyUnits(dir, ['letterpress-noprogram.service']);
    expect(noProgram.exitCode).not.toBe(0);
    expect(noProgram.complaints.join('\n')).toContain('/nonexistent/node');
  });
});

describe('each role unit', () => {
  for (const spec of ROLE_UNITS) {
    describe(spec.file, () => {
      const unit = readUnit(spec.file);
      const service = (key: string) => unitValue(unit, 'Service', key);

      it(`runs \`letterpress ${spec.args.join(' ')}\` with node and the installed bin`, () => {
        expect(service('ExecStart')).toBe([UNIT_NODE, UNIT_BIN, ...spec.args].join(' '));
      });

      it('runs as its own user, in the project, with the shared environment file', () => {
        expect(service('User')).toBe('letterpress');
        expect(service('WorkingDirectory')).toBe('/srv/letterpress');
        expect(service('EnvironmentFile')).toBe('/etc/letterpress/env');
      });

      it('restarts on failure and stops with SIGTERM, giving the drain more time than it takes', () => {
        expect(service('Restart')).toBe('on-failure');
        expect(service('KillSignal')).toBe('SIGTERM');
        const timeout = /^(\d+)s$/.exec(service('TimeoutStopSec') ?? '');
        expect(timeout, 'TimeoutStopSec in seconds, like 45s').not.toBeNull();
        expect(Number(timeout![1])).toBeGreaterThan(spec.drainSeconds);
      });

      it('is hardened, and may write only what its role writes', () => {
        expect(service('NoNewPrivileges')).toBe('yes');
        expect(service('ProtectSystem')).toBe('strict');
        expect(service('PrivateTmp')).toBe('yes');
        expect(service('ProtectHome')).toBe('yes');
        expect(service('CapabilityBoundingSet')).toBe('');
        expect((service('ReadWritePaths') ?? '').split(/\s+/).sort()).toEqual([...spec.writes].sort());
      });
    });
  }
});

/** Captures what the CLI prints, in-process. */
async function runCli(args: readonly string[]): Promise<{ code: number; output: string }> {
  let output = '';
  const sink = { write: (text: string) => ((output += text), true), isTTY: false } as unknown as CliIo['stdout'];
  const code = await main(['node', 'letterpress', ...args], { stdout: sink, stderr: sink, env: {}, cwd: tmpdir() });
  return { code, output };
}

/** `letterpress help <command>` lists each `--option` the command line uses. */
async function expectCommandExists(commandLine: readonly string[]): Promise<void> {
  const words = commandLine.filter((word) => !word.startsWith('-'));
  const { code, output } = await runCli(['help', words[0]!]);
  expect(code, `letterpress help ${words[0]}: ${output}`).toBe(0);
  for (const option of commandLine.filter((word) => word.startsWith('--'))) {
    expect(output, `letterpress ${words[0]} has no ${option}`).toContain(option);
  }
}

describe('the commands the deploy files run', () => {
  const compose = parseYaml(readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as ComposeFile;
  const lines = new Map<string, readonly string[]>();
  for (const line of [
    ...ROLE_UNITS.map((spec) => spec.args),
    ...Object.values(compose.services).flatMap((service) => (service.image?.startsWith('letterpress') ? [service.command ?? []] : [])),
    // docs/deploy.md, "From SQLite to PostgreSQL".
    ['migrate', '--from', '--to'],
  ]) {
    lines.set(line.join(' '), line);
  }

  it('compose.yaml runs the same commands as the units', () => {
    expect([...lines.keys()].sort()).toEqual([...ROLE_UNITS.map((spec) => spec.args.join(' ')), 'migrate --from --to'].sort());
  });

  it.each([...lines])('letterpress %s exists', async (_shown, line) => {
    await expectCommandExists(line);
  });
});

/**
 * Every variable the code reads by name: the list it reads and warns about (every config key's
 * `LETTERPRESS_*` override and the shortcuts), plus any `env.NAME` / `env['NAME']` in src/.
 */
function namesTheCodeReads(): { all: Set<string>; byName: Set<string> } {
  const byName = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b|\benv\[\s*['"]([A-Z][A-Z0-9_]+)['"]\s*\]/g)) {
          byName.add((match[1] ?? match[2])!);
        }
      }
    }
  };
  visit(path.join(REPO_ROOT, 'src'));
  return { all: new Set([...listKnownEnvNames(), ...byName]), byName };
}

/** The first column of the table between `<!-- env:start -->` and `<!-- env:end -->`. */
function docEnvTable(): string[] {
  const start = DOC.indexOf('<!-- env:start -->');
  const end = DOC.indexOf('<!-- env:end -->');
  expect(start, 'docs/deploy.md has the env:start/env:end markers').toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  const rows = DOC.slice(start, end).split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!));
}

describe('environment variables', () => {
  const code = namesTheCodeReads();

  it('every variable docs/deploy.md names is one the code reads', () => {
    const table = docEnvTable();
    expect(table.length).toBeGreaterThan(10);
    const mentioned = new Set([...table, ...[...DOC.matchAll(/\bLETTERPRESS_[A-Z0-9_]+\b/g)].map((match) => match[0])]);
    expect([...mentioned].filter((name) => !code.all.has(name)).sort()).toEqual([]);
  });

  it('every variable the code reads by name is in the table of docs/deploy.md', () => {
    const table = new Set(docEnvTable());
    const needed = new Set([...code.byName, ...ENV_SHORTCUTS.map((shortcut) => shortcut.env)]);
    expect(needed.size).toBeGreaterThan(3);
    expect([...needed].filter((name) => !table.has(name)).sort()).toEqual([]);
  });

  const example = readFileSync(path.join(SYSTEMD, 'env.example'), 'utf8');
  /** NAME=value lines; `#NAME=value` ones are alternatives left commented out. */
  const assignments = [...example.matchAll(/^(#?)([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => ({
    commented: match[1] === '#',
    name: match[2]!,
    value: match[3]!,
  }));

  it('env.example sets only variables the code reads, and a valid configuration with or without its alternatives', async () => {
    expect(assignments.length).toBeGreaterThan(5);
    expect(assignments.map((entry) => entry.name).filter((name) => !code.all.has(name))).toEqual([]);
    const active = Object.fromEntries(assignments.filter((entry) => !entry.commented).map((entry) => [entry.name, entry.value]));
    const everything = Object.fromEntries(assignments.map((entry) => [entry.name, entry.value]));
    work ??= await mkdtemp(path.join(tmpdir(), 'letterpress-units-'));
    for (const env of [active, everything]) {
      expect(findUnknownEnvVariables(env)).toEqual([]);
      const loaded = await loadConfig({ root: work, env });
      expect(loaded.config.smtp.host).toBe('smtp.relay.example.net');
      expect(loaded.secrets.smtpPass).toBe('change-me');
    }
    // systemd's EnvironmentFile reads values verbatim: quotes would become part of them.
    expect(assignments.filter((entry) => /^["']/.test(entry.value))).toEqual([]);
  });

  it('compose.yaml passes only variables the code reads to Letterpress', () => {
    const compose = parseYaml(readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as ComposeFile;
    const passed = Object.values(compose.services)
      .filter((service) => service.image?.startsWith('letterpress'))
      .flatMap((service) => Object.keys(service.environment ?? {}));
    expect(passed).toContain('LETTERPRESS_DB');
    expect(passed.filter((name) => !code.all.has(name))).toEqual([]);
  });
});

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

describe('the container recipe', () => {
  const composeText = readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8');
  const containerfile = readFileSync(path.join(DEPLOY, 'Containerfile'), 'utf8');

  it('is marked as not run on this project\'s machines, in both files and in the doc', () => {
    for (const text of [composeText, containerfile, DOC]) expect(text).toMatch(/not run on this project's machines/i);
  });

  it('compose.yaml parses, runs PostgreSQL 15 and each role, and shares out/ between scheduler and web', () => {
    const compose = parseYaml(composeText, { merge: true }) as ComposeFile;
    const { postgres, web, scheduler, worker } = compose.services;
    expect(postgres?.image).toMatch(/^postgres:15\b/);
    expect(web?.command).toEqual(['start', '--role', 'web']);
    expect(scheduler?.command).toEqual(['start', '--role', 'scheduler']);
    expect(worker?.command).toEqual(['worker']);
    expect(worker?.deploy?.replicas).toBeGreaterThan(1);
    const outVolume = (service: ComposeService | undefined) =>
      service?.volumes?.find((volume) => volume.split(':')[1] === '/srv/letterpress/out')?.split(':')[0];
    expect(outVolume(scheduler)).toBeDefined();
    expect(outVolume(web)).toBe(outVolume(scheduler));
    expect(Object.keys(compose.volumes ?? {})).toContain(outVolume(scheduler));
  });

  it('compose.yaml gives each role as long to stop as its systemd unit', () => {
    const compose = parseYaml(composeText, { merge: true }) as ComposeFile;
    for (const spec of ROLE_UNITS) {
      expect(compose.services[spec.role]?.stop_grace_period).toBe(unitValue(readUnit(spec.file), 'Service', 'TimeoutStopSec'));
    }
  });

  it('the Containerfile builds on node:20-bookworm-slim, installs production dependencies only, runs as a user, and copies files that exist', () => {
    expect(containerfile).toMatch(/^FROM node:20-bookworm-slim\b/m);
    expect(containerfile).toMatch(/npm ci --omit=dev/);
    expect(containerfile).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    const users = [...containerfile.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
    const copied = [...containerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((match) => match[1]!.trim().split(/\s+/).slice(0, -1));
    expect(copied.length).toBeGreaterThan(3);
    for (const source of copied) expect(() => accessSync(path.join(REPO_ROOT, source))).not.toThrow();
  });
});

describe('docs/deploy.md', () => {
  it('links only files that exist, and the README links it', () => {
    const targets = [...DOC.matchAll(/\]\((\.\.\/[^)#]+)\)/g)].map((match) => match[1]!);
    expect(targets.length).toBeGreaterThan(5);
    for (const target of targets) expect(() => accessSync(path.resolve(REPO_ROOT, 'docs', target)), target).not.toThrow();
    expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain('](docs/deploy.md)');
  });
});
