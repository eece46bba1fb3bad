// `make unit`: runs the compiled test files under node's test runner so that the suite can fail but never
// hang, then fails it when anything the tests started is still there.
//   node dist/test/suite/run.js [--deadline-minutes=60] [--grace-seconds=15] [FILE.test.js ...]
//   (default: every test file under dist/test)
// - Each test and each file has a timeout (--test-timeout, 40 min unless a test's options say less), and
//   a file whose handles stay open after its tests cannot keep the runner alive (--test-force-exit).
// - A deadline for the whole run (60 min) names the files still running, then stops them.
// - Every process of the run inherits DISTML_TEST_SUITE=<random> and TMPDIR=<a fresh dir>, so the leak check
//   afterwards finds exactly this run's leftovers (processes, their listening ports, temp entries) even
//   while other suites run on the machine; it reports them, removes them and fails the run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanUp, describeLeaks, findLeaks, markedPids, settle, SUITE_MARKER } from './leaks.js';

// Node 20 applies --test-timeout to each whole file as well as to each test: measured under load, the
// files holding real-data trainings (cli/train-distributed, cli/train) ran past 10 min and were cut off.
// So this is the cap per file; a test that needs less says so in its options.
const TEST_TIMEOUT_MS = 40 * 60_000;

const distTest = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The test files (by their path on the command line) that marked processes are running now. */
function runningFiles(marker: string): string[] {
  const files = new Set<string>();
  for (const pid of markedPids(marker)) {
    let argv: string[] = [];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    for (const a of argv) if (a.endsWith('.test.js')) files.add(relative(process.cwd(), a));
  }
  return [...files].sort();
}

interface Options {
  /** The whole run's deadline. */
  deadlineMs: number;
  /** How long processes that are still exiting when the runner ends get before they count as leaks. */
  graceMs: number;
  files: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { deadlineMs: 60 * 60_000, graceMs: 15_000, files: [] };
  for (const a of argv) {
    const m = /^--(deadline-minutes|grace-seconds)=(\d+(?:\.\d+)?)$/.exec(a);
    if (m?.[1] === 'deadline-minutes') o.deadlineMs = Number(m[2]) * 60_000;
    else if (m?.[1] === 'grace-seconds') o.graceMs = Number(m[2]) * 1000;
    else if (a.startsWith('--'))
      throw new Error(`unknown option ${a}; use --deadline-minutes=N, --grace-seconds=N and test files`);
    else o.files.push(a);
  }
  if (o.files.length === 0) o.files = testFiles(distTest);
  return o;
}

async function main(): Promise<number> {
  const { deadlineMs, graceMs, files } = parseArgs(process.argv.slice(2));
  const marker = randomBytes(8).toString('hex');
  const temp = mkdtempSync(join(tmpdir(), 'distml-suite-'));
  // A runner started from inside a test file (the runner's own tests) must run its files, not skip them.
  const env = { ...process.env, [SUITE_MARKER]: marker, TMPDIR: temp, NODE_TEST_CONTEXT: undefined };
  const runner = spawn(
    process.execPath,
    [
      ...['--test', '--test-reporter=spec', '--test-concurrency=2'],
      ...[`--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...files],
    ],
    { env, stdio: 'inherit' },
  );
  const stopAll = async (why: string) => {
    console.error(`\nsuite: ${why}; still running: ${runningFiles(marker).join(', ') || '(none)'}`);
    runner.kill('SIGTERM');
    await cleanUp(marker);
  };
  const onSignal = (sig: NodeJS.Signals) => void stopAll(`${sig}`).then(() => process.exit(130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal).once('SIGHUP', onSignal);
  let timedOut = false;
  const backstop = setTimeout(() => {
    timedOut = true;
    void stopAll(`the run passed its deadline of ${deadlineMs / 60_000} min`);
  }, deadlineMs);
  const code = await new Promise<number>((resolve) =>
    runner.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1))),
  );
  clearTimeout(backstop);

  await settle(marker, graceMs);
  const leaks = findLeaks(marker, temp);
  const report = describeLeaks(leaks, temp);
  if (report) {
    console.error(`\nsuite: leak check FAILED: the tests left these behind (now removed):\n${report}`);
    await cleanUp(marker, temp);
  } else console.error('\nsuite: leak check passed: no process, listening port or temp entry left');
  rmSync(temp, { recursive: true, force: true });
  if (timedOut) return 124;
  return code !== 0 ? code : report ? 1 : 0;
}

process.exitCode = await main();
