import { flagSet, parseFlags, type Command } from '../command.js';
import { dataSourceFlags } from '../data-source-flags.js';
import {
  checkDataset,
  checkEngine,
  checkGloo,
  checkPorts,
  checkTool,
  checkWorkspace,
  type CheckResult,
} from '../doctor-checks.js';
import { EXIT_FAILURE, EXIT_OK } from '../errors.js';
import { table } from '../output.js';

/** `distml serve`'s default port (kept in step with its --port default). */
const SERVE_PORT = 8080;

const doctorFlags = flagSet({ source: dataSourceFlags.source });

/** Every check, in the order a user would fix them. */
async function runChecks(source: string, workspace: string): Promise<CheckResult[]> {
  const engine = checkEngine();
  return [
    engine,
    engine.status === 'ok'
      ? await checkGloo()
      : {
          name: 'gloo',
          status: 'problem' as const,
          detail: 'not tried: the addon does not load',
          fix: 'fix libtorch first',
        },
    await checkDataset(source, workspace),
    checkWorkspace(workspace),
    ...(await checkPorts(SERVE_PORT)),
    checkTool('hey', ['hey'], '`apt-get install hey`'),
    checkTool(
      'chromium',
      ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'],
      '`apt-get install chromium` (the web UI tests drive it)',
    ),
  ];
}

export const doctorCommand: Command = {
  path: ['doctor'],
  summary: 'check the set-up: libtorch and the addon, Gloo, the dataset, the workspace, ports, test tools',
  details: [
    'Each check tries the real thing and prints ok, problem or warning, with the fix. A problem stops distml',
    'from working (exit 1); a warning only affects tests, benchmarks or a default (e.g. port 8080 taken).',
    'The dataset is looked for where `distml data prepare --source` would look, without downloading.',
  ].join('\n'),
  options: doctorFlags.options,
  async run({ values, global, out }) {
    const f = parseFlags(doctorFlags, values);
    const checks = await runChecks(f.source, global.workspace);
    const problems = checks.filter((c) => c.status === 'problem').length;
    out.result({ ok: problems === 0, problems, checks }, () => human(checks, problems));
    return problems ? EXIT_FAILURE : EXIT_OK;
  },
};

function human(checks: CheckResult[], problems: number): string {
  const rows = checks.map((c) => [c.status, c.name, c.detail]);
  const lines = table(rows).split('\n');
  const out = lines.flatMap((line, i) => {
    const fix = checks[i]?.fix;
    return fix ? [line, `    fix: ${fix}`] : [line];
  });
  out.push(
    problems
      ? `${problems} problem${problems > 1 ? 's' : ''}: fix ${problems > 1 ? 'them' : 'it'} and run \`distml doctor\` again`
      : 'all set',
  );
  return out.join('\n');
}
