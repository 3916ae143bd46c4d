import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, readlink, realpath, rename, rm, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';

import { fileTargetPathProblem, isInsideRoots, type Target } from '@rotor/catalog';

import {
  TargetRefusedError,
  type Observation,
  type RemoveOutcome,
  type TargetWriter,
  type VersionCopy,
  type WriteOutcome,
} from './target-writer';

type FileTarget = Extract<Target, { kind: 'file' }>;

/** The link readers follow, as in kubelet's atomic writer: `value` → `..data/value` → `..v<N>_<stamp>/value`. */
const DATA_LINK = '..data';
const VALUE_FILE = 'value';
const META_FILE = 'rotor.json';
const versionDirPattern = /^\.\.v(\d+)_/;

interface CopyMetadata {
  secret: string;
  version: number;
  gsmVersion: string;
  contentHash: string;
}

/**
 * Writes a version into a directory atomically: a new version directory is written and
 * synced, then the `..data` symlink is swapped with one rename, so a reader sees either the
 * old value or the new one, never a mix. Files are 0400 in a 0700 directory.
 *
 * Only under the configured roots: the catalog is checked at load, and every operation checks
 * again on the real file system (a symlink planted after start-up must not lead outside).
 */
export class FileTargetWriter implements TargetWriter<FileTarget> {
  readonly kind = 'file' as const;

  /** `roots`: ROTOR_FILE_TARGET_ROOTS, normalised absolute directories. */
  constructor(private readonly roots: readonly string[]) {}

  locator(target: FileTarget): string {
    return `file:${target.path}`;
  }

  async write(target: FileTarget, copy: VersionCopy): Promise<WriteOutcome> {
    const locator = this.locator(target);
    const path = (await this.directory(target, 'create'))!;
    const current = await this.current(path);
    if (current && current.version > copy.version) return { kind: 'superseded', locator, heldVersion: current.version };
    if (current && current.version === copy.version && current.contentHash === copy.contentHash) {
      // Same version recorded, but the file itself may have been edited by hand: compare the bytes.
      const held = await readFile(join(path, VALUE_FILE)).catch(ifMissing(undefined));
      if (held?.equals(copy.value)) return { kind: 'unchanged', locator };
    }

    const dirName = `..v${copy.version}_${new Date().toISOString().replace(/[-:.]/g, '')}_${randomBytes(3).toString('hex')}`;
    const dir = join(path, dirName);
    await mkdir(dir, { mode: 0o700 });
    await writeSynced(join(dir, VALUE_FILE), copy.value);
    const metadata: CopyMetadata = {
      secret: copy.secret,
      version: copy.version,
      gsmVersion: copy.gsmVersion,
      contentHash: copy.contentHash,
    };
    await writeSynced(join(dir, META_FILE), Buffer.from(JSON.stringify(metadata)));
    await syncDir(dir);

    await swapLink(path, DATA_LINK, dirName);
    for (const file of [VALUE_FILE, META_FILE]) await ensureLink(path, file, join(DATA_LINK, file));
    await syncDir(path);
    // Older version directories are unreachable now; keeping them would keep old values on disk.
    for (const entry of await readdir(path)) {
      if (versionDirPattern.test(entry) && entry !== dirName) await rm(join(path, entry), { recursive: true, force: true });
    }
    return { kind: 'written', locator };
  }

  async remove(target: FileTarget, copy: { version: number }): Promise<RemoveOutcome> {
    const locator = this.locator(target);
    const path = await this.directory(target, 'existing');
    if (!path) return { kind: 'absent', locator };
    const entries = await readdir(path).catch(ifMissing([] as string[]));
    const current = await this.current(path);
    let removed = false;
    if (current?.version === copy.version) {
      for (const link of [VALUE_FILE, META_FILE, DATA_LINK]) await unlink(join(path, link)).catch(ifMissing(undefined));
      removed = true;
    }
    for (const entry of entries) {
      if (versionDirPattern.exec(entry)?.[1] === String(copy.version)) {
        await rm(join(path, entry), { recursive: true, force: true });
        removed = true;
      }
    }
    if (removed) return { kind: 'removed', locator };
    return current ? { kind: 'holds-other-version', locator, heldVersion: current.version } : { kind: 'absent', locator };
  }

  async observe(target: FileTarget, hashOf: (value: Buffer) => string): Promise<Observation> {
    const locator = this.locator(target);
    const path = await this.directory(target, 'existing');
    if (!path) return { kind: 'missing', locator };
    const value = await readFile(join(path, VALUE_FILE)).catch(ifMissing(undefined));
    if (!value) return { kind: 'missing', locator };
    const metadata = await this.current(path);
    return {
      kind: 'present',
      locator,
      actualHash: hashOf(value),
      managedByRotor: !!metadata,
      ...(metadata ? { version: metadata.version, recordedHash: metadata.contentHash } : {}),
    };
  }

  /**
   * The target's directory, resolved on disk and checked: inside a root after every symlink is
   * followed, itself a real directory (not a link), 0700. Missing directories are created one
   * level at a time, each checked before the next is made, so nothing is created outside a root.
   * With `existing`, undefined when the directory is not there.
   */
  private async directory(target: FileTarget, mode: 'create' | 'existing'): Promise<string | undefined> {
    const refuse = (why: string) => new TargetRefusedError(`file target ${target.name}: ${target.path} ${why}`);
    const problem = fileTargetPathProblem(target.path);
    if (problem) throw refuse(problem);
    const root = this.roots.find((candidate) => isInsideRoots(target.path, [candidate]));
    if (!root) throw refuse(`is outside the file target roots (${this.roots.join(', ') || 'none configured'})`);
    if (mode === 'create') await mkdir(root, { recursive: true, mode: 0o700 });
    const realRoot = await realpath(root).catch(ifMissing(undefined));
    if (!realRoot) return undefined;

    let parent = realRoot;
    for (const part of relative(root, dirname(target.path)).split(sep).filter(Boolean)) {
      const next = join(parent, part);
      if (mode === 'create') await mkdir(next, { mode: 0o700 }).catch(ifExists);
      const real = await realpath(next).catch(ifMissing(undefined));
      if (!real) return undefined;
      if (real !== realRoot && !real.startsWith(realRoot + sep)) throw refuse(`leads outside its root ${root} (through ${next})`);
      parent = real;
    }

    const path = join(parent, basename(target.path));
    if (mode === 'create') await mkdir(path, { mode: 0o700 }).catch(ifExists);
    const stats = await lstat(path).catch(ifMissing(undefined));
    if (!stats) return undefined;
    if (stats.isSymbolicLink()) throw refuse('is a symbolic link; rotor writes only into a directory of its own');
    if (!stats.isDirectory()) throw refuse('is not a directory');
    // A directory made by someone else (or before this check existed) may let others read the values.
    if ((stats.mode & 0o077) !== 0 && mode === 'create') await chmod(path, 0o700);
    return path;
  }

  private async current(path: string): Promise<CopyMetadata | undefined> {
    const dir = await readlink(join(path, DATA_LINK)).catch(ifMissing(undefined));
    if (!dir) return undefined;
    const text = await readFile(join(path, dir, META_FILE), 'utf8').catch(ifMissing(undefined));
    return text ? (JSON.parse(text) as CopyMetadata) : undefined;
  }
}

async function writeSynced(file: string, content: Buffer): Promise<void> {
  const handle = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o400);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Points `name` at `destination` with one rename, replacing any previous link atomically. */
async function swapLink(dir: string, name: string, destination: string): Promise<void> {
  const temporary = join(dir, `..tmp_${randomBytes(6).toString('hex')}`);
  await symlink(destination, temporary);
  await rename(temporary, join(dir, name));
}

async function ensureLink(dir: string, name: string, destination: string): Promise<void> {
  const existing = await readlink(join(dir, name)).catch(ifMissing(undefined));
  if (existing !== destination) await swapLink(dir, name, destination);
}

function ifExists(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EEXIST') throw error;
}

function ifMissing<T>(fallback: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  };
}
