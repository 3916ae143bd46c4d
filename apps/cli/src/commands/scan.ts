import { CopyMatcher, type LineMatch } from '@rotor/copy-fingerprint';

import { InvalidArgumentError, type Command } from 'commander';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { contextOf, examples } from '../program-kit';
import { distributorApi } from '../rotor-api';
import { FileScanner } from '../scan/file-scanner';
import { walkPaths, type SkipNote } from '../scan/file-walker';
import { mb, ScanProgress } from '../scan/scan-progress';

const STDIN = '-';

export interface ScanFinding {
  path: string;
  line: number;
  secret: string;
  version: number;
  form: 'raw' | 'base64';
}

interface ScanOptions {
  maxFileMb: number;
  report?: boolean;
}

/**
 * `rotor scan <path>…`: finds copies of managed values in files, directories and stdin (`-`,
 * for `env | rotor scan -`). The CLI never holds a value: it asks the distributor for keyed
 * hashes (and the key), hashes candidate windows of each line, and reports `path:line` of each
 * match. Exit 1 when something is found, 0 when clean (files it skipped are listed on stderr).
 */
async function scanCommand(context: CliContext, paths: string[], flags: ScanOptions): Promise<void> {
  const maxFileMb = flags.maxFileMb;

  const distributor = distributorApi(context, await context.token(['rotor:auditor']));
  const response = await distributor.copyFingerprints();
  const matcher = new CopyMatcher(response.scanKey, response.fingerprints);
  for (const missing of response.unfingerprinted)
    process.stderr.write(
      `note: ${missing.secret} version ${missing.version} has no fingerprint (retired before the distributor saw it); it cannot be found\n`,
    );

  const scanner = new FileScanner(matcher, maxFileMb * 1048576);
  const findings: ScanFinding[] = [];
  const skipped: SkipNote[] = [];
  const record = (path: string, matches: LineMatch[]) => {
    for (const match of matches.sort((a, b) => a.line - b.line)) {
      const finding = { path, line: match.line, secret: match.secret, version: match.version, form: match.form };
      findings.push(finding);
      if (!context.json) process.stdout.write(`${path}:${match.line}: secret ${match.secret} version ${match.version} (${match.form})\n`);
    }
  };

  const filePaths = paths.filter((path) => path !== STDIN);
  const walk = await walkPaths(filePaths);
  const progress = new ScanProgress(
    walk.files.length,
    walk.files.reduce((sum, file) => sum + file.size, 0),
  );
  const skip = (note: SkipNote) => {
    skipped.push(note);
    progress.note(`skipped ${note.path}: ${note.reason}`);
  };
  walk.notes.forEach(skip);

  if (paths.includes(STDIN)) {
    const outcome = await scanner.scanStream(process.stdin);
    if (outcome.kind === 'scanned') record(STDIN, outcome.matches);
  }
  for (const file of walk.files) {
    const outcome = await scanner.scan(file.path, file.size, (bytes) => {
      progress.bytes += bytes;
      progress.update();
    });
    progress.files++;
    if (outcome.kind === 'skipped') skip({ path: file.path, reason: outcome.reason });
    else record(file.path, outcome.matches);
    progress.update();
  }
  progress.finish();

  const summary = {
    files: walk.files.length,
    scannedBytes: progress.bytes,
    seconds: Number(progress.seconds.toFixed(3)),
    mbPerSecond: Number((progress.bytes / 1048576 / progress.seconds).toFixed(1)),
    findings: findings.length,
    filesWithFindings: new Set(findings.map((finding) => finding.path)).size,
    skipped: skipped.length,
    versions: new Set(response.fingerprints.map((fingerprint) => `${fingerprint.secret}|${fingerprint.version}`)).size,
  };
  if (flags.report === true && findings.length > 0) {
    const reported = findings.map((finding) => ({
      ...finding,
      kind: finding.path === STDIN ? ('ci-variable' as const) : ('file' as const),
      path: finding.path === STDIN ? 'stdin' : finding.path,
    }));
    for (let at = 0; at < reported.length; at += 1000) {
      await distributor.reportCopies({ findings: reported.slice(at, at + 1000) });
    }
  }
  if (context.json) process.stdout.write(`${JSON.stringify({ findings, skipped, summary })}\n`);
  process.stderr.write(
    `scanned ${summary.files.toLocaleString('en-US')} files (${mb(summary.scannedBytes)} MB) in ${summary.seconds}s, ${summary.mbPerSecond} MB/s, against ${summary.versions} managed versions: ` +
      `${summary.findings} match${summary.findings === 1 ? '' : 'es'} in ${summary.filesWithFindings} file${summary.filesWithFindings === 1 ? '' : 's'}, ${summary.skipped} skipped` +
      `${flags.report === true && findings.length > 0 ? ', reported to the distributor' : ''}\n`,
  );
  if (findings.length > 0) process.exitCode = ExitCode.findings;
}

const megabytes = (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('a positive number of megabytes');
  return value;
};

export function registerScanCommands(program: Command): void {
  program
    .command('scan')
    .description(
      'finds copies of managed values in files, directories or stdin (-) and prints path:line, never a value; exit 1 when it finds one',
    )
    .argument('<paths...>', 'files or directories; - reads stdin')
    .option('--max-file-mb <mb>', 'skip files larger than this', megabytes, 50)
    .option('--report', 'report what it finds to the distributor, so the posture report lists it')
    .addHelpText(
      'after',
      examples('rotor scan ./deploy ./charts', 'env | rotor scan - --report', 'rotor scan . --output json > findings.json'),
    )
    .action((paths: string[], options: ScanOptions, command: Command) => scanCommand(contextOf(command), paths, options));
}
