import type { Command } from './command.js';
import { dataPrepare, dataShow } from './commands/data.js';
import { evaluate } from './commands/evaluate.js';
import { modelsList, modelsSummary } from './commands/models.js';
import { train } from './commands/train/index.js';
import { predict } from './commands/predict.js';
import { selectCommand } from './commands/select.js';
import { serveCommand } from './commands/serve/index.js';
import { runCommand } from './commands/run.js';
import { lintCommand } from './commands/lint.js';
import { nodeSetCommand } from './commands/node-set.js';
import {
  getCommand,
  listCommand,
  logsCommand,
  resumeCommand,
  retryCommand,
  stopCommand,
} from './commands/workflow-runs.js';
import { cacheGc, cacheList } from './commands/cache.js';
import { doctorCommand } from './commands/doctor.js';
import { completionCommand } from './commands/completion.js';
import { serverStart, serverStatus, serverStop } from './commands/server.js';
import { jobsCommand, queueApply, queueList } from './commands/queue.js';

/** Every subcommand of `distml`, in help order. */
export const COMMANDS: Command[] = [
  dataPrepare,
  dataShow,
  train,
  evaluate,
  modelsList,
  modelsSummary,
  selectCommand,
  serveCommand,
  predict,
  runCommand,
  lintCommand,
  getCommand,
  listCommand,
  logsCommand,
  retryCommand,
  stopCommand,
  resumeCommand,
  serverStart,
  serverStatus,
  serverStop,
  nodeSetCommand,
  cacheList,
  cacheGc,
  queueApply,
  queueList,
  jobsCommand,
  doctorCommand,
  completionCommand(() => COMMANDS),
];

/** Short descriptions of command groups (the first word of a path). */
export const GROUPS: Record<string, string> = {
  data: 'ingest Fashion-MNIST: find or download it, decode, cache, inspect',
  models: "the book's models: list them, print their layer tables",
  server: "the workspace's control plane: one HTTP API, resource pool and owner of every run and process",
  cache: 'the memoization cache of pipeline steps: list entries, drop unused ones',
  queue: 'queues, shares and priorities (a queue file in Kueue vocabulary): apply one, list queues',
};
