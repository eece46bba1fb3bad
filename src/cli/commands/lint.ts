import { readFileSync } from 'node:fs';
import { analyseWorkflowYaml } from '../../workflow/index.js';
import { CommandError, UsageError, type Command } from '../command.js';

/** `distml lint FILE...`: like `argo lint`, every problem of each workflow with its YAML path and line. */
export const lintCommand: Command = {
  path: ['lint'],
  summary:
    'check Argo Workflow files: every problem with its YAML path and line, and what runs differently here',
  usage: 'FILE...',
  details: [
    'Validates each workflow as `distml run` would, without running it, and prints every problem with its',
    'YAML path and line. Fields that only mean something on Kubernetes (nodeSelector, serviceAccountName,',
    'affinity, tolerations, volumes, securityContext, ...) are accepted and listed as "ignored when run',
    'locally"; a field the local engine does not support is a problem that names it.',
    'Exit code 1 when any file has a problem.',
  ].join('\n'),
  options: {},
  async run({ positionals, out }) {
    if (positionals.length === 0)
      throw new UsageError('name at least one workflow file: distml lint FILE...');
    const reports = positionals.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        return { file, problems: [`cannot read: ${(err as Error).message}`], ignored: [] };
      }
      const { problems, ignored } = analyseWorkflowYaml(text);
      return { file, problems, ignored };
    });
    out.result(reports, () =>
      reports
        .map((r) => {
          const head =
            r.problems.length === 0 ? `${r.file}: ok` : `${r.file}: ${r.problems.length} problem(s)`;
          const lines = [...r.problems.map((p) => `  ${p}`), ...r.ignored.map((p) => `  note: ${p}`)];
          return [head, ...lines].join('\n');
        })
        .join('\n'),
    );
    const bad = reports.filter((r) => r.problems.length > 0).length;
    if (bad > 0)
      throw new CommandError('CLI_LINT_FAILED', `${bad} of ${reports.length} workflow file(s) have problems`);
  },
};
