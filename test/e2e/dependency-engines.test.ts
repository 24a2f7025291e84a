import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/temp-project.ts';

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};

/** Every installed package under node_modules (nested ones too), as its folder relative to the root. */
function installedPackages(dir = path.join(REPO_ROOT, 'node_modules')): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const folder = path.join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      found.push(...installedPackages(folder));
      continue;
    }
    if (existsSync(path.join(folder, 'package.json'))) found.push(path.relative(REPO_ROOT, folder));
    if (existsSync(path.join(folder, 'node_modules'))) found.push(...installedPackages(path.join(folder, 'node_modules')));
  }
  return found;
}

/**
 * The Node versions the project supports and is tested on: the first release of each line that
 * `engines` (>=20.19) means in practice, and the Node running this test. (Odd, non-LTS lines and
 * 22.0–22.11 are not supported by some dependencies; the README says so.)
 */
const SUPPORTED_NODES = ['20.19.0', '22.12.0', '24.0.0', process.versions.node];

describe('the declared engines are true for the whole dependency tree', () => {
  const declared = manifest.engines?.node ?? '';
  const packages = installedPackages()
    .map((folder) => ({ folder, json: JSON.parse(readFileSync(path.join(REPO_ROOT, folder, 'package.json'), 'utf8')) as Manifest }))
    .filter(({ json }) => typeof json.engines?.node === 'string');

  it('declares a range that includes the Node this runs on', () => {
    expect(semver.validRange(declared)).not.toBeNull();
    expect(semver.satisfies(process.versions.node, declared)).toBe(true);
  });

  it('every package a user installs accepts every supported Node version', () => {
    expect(packages.length).toBeGreaterThan(20);
    expect(SUPPORTED_NODES.every((version) => semver.satisfies(version, declared))).toBe(true);
    const refusing = packages
      .filter(({ folder }) => lock.packages[folder]?.dev !== true)
      .filter(({ json }) => SUPPORTED_NODES.some((version) => !semver.satisfies(version, json.engines!.node!)))
      .map(({ folder, json }) => `${folder}@${json.version} wants node ${json.engines!.node}`);
    expect(refusing).toEqual([]);
  });

  it('every development package accepts the Node versions the project is developed on', () => {
    const refusing = packages
      .filter(({ json }) => SUPPORTED_NODES.some((version) => !semver.satisfies(version, json.engines!.node!)))
      .map(({ folder, json }) => `${folder}@${json.version} wants node ${json.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});

describe('dependencies whose private API the code relies on', () => {
  it('nodemailer is pinned to one exact version, and that version is the one installed', () => {
    // src/deliver/smtp-connection.ts overrides SMTPConnection#_createSendStream, which is not
    // public API: a caret range would let any minor release change it under us.
    const range = manifest.dependencies?.nodemailer ?? '';
    expect(semver.valid(range), `nodemailer ${range} is a range, not an exact version`).toBe(range);
    const installed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/nodemailer/package.json'), 'utf8')) as Manifest;
    expect(installed.version).toBe(range);
  });
});
