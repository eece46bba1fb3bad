// Every environment variable distml reads or sets, in one table (tinygrad's helpers.py block, Ray's
// constants.py): name, default, meaning. Only the CLI reads the environment (CONVENTIONS 6): it reads these
// through `envValue`, or hands `process.env` to a module's parser of a contract (the torch and
// parameter-server contracts in src/train). Outside src/cli the environment is only passed on to child
// processes. README's Configuration table is checked against this one (test/cli/env.test.ts).

/** One environment variable: who reads or sets it, its default and what it means. */
export interface EnvVar {
  name: string;
  /** `read`: a setting a user may give; `set`: distml sets it for the processes it starts (they read it). */
  kind: 'read' | 'set';
  /** What applies when it is unset. */
  default: string;
  meaning: string;
}

export const ENV_VARS = [
  {
    name: 'DISTML_HOME',
    kind: 'read',
    default: '.distml',
    meaning: 'the workspace folder (`--workspace` wins)',
  },
  {
    name: 'DISTML_USER',
    kind: 'read',
    default: 'the OS user',
    meaning: "the user `distml run` submits as (`--user` wins): the scheduler's fair share is per user",
  },
  {
    name: 'DISTML_THREADS',
    kind: 'read',
    default: 'every core (`serve` leaves one to its event loop)',
    meaning:
      'libtorch threads of train, evaluate, select and serve unless `--threads`; launchers and workflow steps set it to their share',
  },
  {
    name: 'DISTML_JOB_SECRET',
    kind: 'read',
    default: 'random per job',
    meaning:
      "a training job's secret, presented to its rendezvous store and parameter servers; set one value on every host to span hosts",
  },
  {
    name: 'MASTER_ADDR',
    kind: 'read',
    default: 'none: a single process',
    meaning: "torch's contract: the rendezvous host a worker joins",
  },
  { name: 'MASTER_PORT', kind: 'read', default: 'none', meaning: "torch's contract: the rendezvous port" },
  {
    name: 'WORLD_SIZE',
    kind: 'read',
    default: 'none (required with MASTER_ADDR unless elastic)',
    meaning: "torch's contract: workers in a static job",
  },
  {
    name: 'RANK',
    kind: 'read',
    default: 'none (required with MASTER_ADDR unless elastic)',
    meaning: "torch's contract: this worker's rank",
  },
  { name: 'LOCAL_RANK', kind: 'read', default: '0', meaning: "torch's contract: rank on this host" },
  {
    name: 'TF_CONFIG',
    kind: 'read',
    default: 'none',
    meaning: "the book's TFJob contract (cluster and task as JSON), read when MASTER_ADDR is unset",
  },
  {
    name: 'DISTML_ELASTIC',
    kind: 'read',
    default: 'unset: a static job',
    meaning: '`1`: the worker joins an elastic job (rank and size assigned per generation)',
  },
  {
    name: 'GLOO_SOCKET_IFNAME',
    kind: 'read',
    default: "`lo` for a loopback master, else the host's default",
    meaning: 'the network interface Gloo uses',
  },
  {
    name: 'NO_COLOR',
    kind: 'read',
    default: 'colour on a terminal',
    meaning: 'set: `data show` draws without colour',
  },
  {
    name: 'PATH',
    kind: 'read',
    default: "the system's",
    meaning: 'where `doctor` looks for `hey` and Chromium, and spawned tools are found',
  },
  {
    name: 'LIBTORCH',
    kind: 'read',
    default: "Debian's `libtorch-dev`",
    meaning: 'build time (native/binding.gyp): an unpacked libtorch zip to build the addon against',
  },
  {
    name: 'DISTML_PS_ROLE',
    kind: 'set',
    default: 'unset: the launcher',
    meaning: 'parameter server: `server` or `worker`, for the processes its launcher starts',
  },
  {
    name: 'DISTML_PS_WORKERS',
    kind: 'set',
    default: 'none',
    meaning: 'parameter server: workers in the job',
  },
  {
    name: 'DISTML_PS_PARTITION',
    kind: 'set',
    default: 'none',
    meaning: 'parameter server: JSON `[{index, start, end}]`, the shards of the flat parameter vector',
  },
  { name: 'DISTML_PS_INDEX', kind: 'set', default: 'none', meaning: "parameter server: a server's shard" },
  {
    name: 'DISTML_PS_HOST',
    kind: 'set',
    default: '127.0.0.1',
    meaning: 'parameter server: the address a server listens on',
  },
  {
    name: 'DISTML_PS_PORT',
    kind: 'set',
    default: '0 (any free port)',
    meaning: 'parameter server: the port a server listens on',
  },
  {
    name: 'DISTML_PS_RANK',
    kind: 'set',
    default: 'none',
    meaning: "parameter server: a worker's rank (0 = chief)",
  },
  {
    name: 'DISTML_PS_SERVERS',
    kind: 'set',
    default: 'none',
    meaning: 'parameter server: `host:port` of shard 0, 1, … comma-separated, for a worker',
  },
  {
    name: 'DISTML_PS_LAUNCHED',
    kind: 'set',
    default: 'unset',
    meaning: '`1`: a parameter server started by a launcher stops when the launcher is gone',
  },
  {
    name: 'DISTML_OWNER',
    kind: 'set',
    default: 'unset',
    meaning:
      '`PID:STARTTIME` of the process that started this one; a distml started after its owner died stops at once',
  },
  {
    name: 'DISTML_NODE_KEY',
    kind: 'set',
    default: 'unset',
    meaning: '`RUN/STEP`: marks every process of a workflow step, so a later engine finds and reaps orphans',
  },
  { name: 'DISTML_RUN', kind: 'set', default: 'unset', meaning: 'the workflow run a step belongs to' },
  {
    name: 'DISTML_SCRATCH',
    kind: 'set',
    default: 'unset',
    meaning: "a workflow step's scratch folder (removed when the step succeeds)",
  },
] as const satisfies readonly EnvVar[];

/** The name of a variable in the table. */
export type EnvName = (typeof ENV_VARS)[number]['name'];

/** The value of one variable of the table (undefined when unset): the CLI's one way to read a setting. */
export function envValue(name: EnvName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[name];
}

/** README's Configuration table, rendered from ENV_VARS (test/cli/env.test.ts checks README holds it). */
export function envTableMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| variable | default | meaning |',
    '|---|---|---|',
    ...ENV_VARS.map(
      (v) =>
        `| \`${v.name}\` | ${cell(v.default)} | ${v.kind === 'set' ? 'set by distml for its children: ' : ''}${cell(v.meaning)} |`,
    ),
  ].join('\n');
}

/** The whole environment, for a parser of a contract (torch's MASTER_ADDR…, the parameter-server roles). */
export function processEnv(): NodeJS.ProcessEnv {
  return process.env;
}
