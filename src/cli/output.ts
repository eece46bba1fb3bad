import { plainLine } from './plain-log.js';

/** A progress line in a log (not a terminal, no --json) at most this often: enough to follow, not a flood. */
const PLAIN_PROGRESS_MS = 5000;

/** Where a command's results and progress go: human text, or JSON for machines (`--json`). */
export class Output {
  private lastLine = 0;

  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Prints the command's result: the object as one JSON document with --json, else the human rendering. */
  result(data: unknown, human: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${human()}\n`);
  }

  /** A note for people (stderr, omitted with --json). */
  info(message: string): void {
    if (!this.json) this.stderr.write(`${message}\n`);
  }

  /** True when progress is drawn as a bar (stderr is a terminal and --json is off). */
  get interactive(): boolean {
    return Boolean(this.stderr.isTTY) && !this.json;
  }

  /**
   * An event on stderr (used when not drawing on a terminal): a JSON line with --json, else one plain line
   * for people (`time  step  phase  message`), so logs and CI output stay readable.
   */
  event(data: object): void {
    this.stderr.write(`${this.json ? JSON.stringify(data) : plainLine(data as Record<string, unknown>)}\n`);
  }

  /**
   * Reports progress of long work on stderr: a redrawn bar on a terminal, otherwise an event line (JSON at
   * most once a second with --json, a plain line at most every 5 s) that logs and machines can follow.
   */
  progress(label: string): Progress {
    const tty = this.interactive;
    const every = tty ? 100 : this.json ? 1000 : PLAIN_PROGRESS_MS;
    return {
      update: (done, total, detail = '', extra = {}) => {
        const now = Date.now();
        const final = total !== undefined && done >= total;
        if (!final && now - this.lastLine < every) return;
        this.lastLine = now;
        if (tty) this.stderr.write(`\r\x1b[2K${renderBar(label, done, total, detail)}${final ? '\n' : ''}`);
        else this.event({ event: 'progress', task: label, done, total, detail, ...extra });
      },
    };
  }
}

export interface Progress {
  update(done: number, total?: number, detail?: string, extra?: Record<string, unknown>): void;
}

/** `label [#####.....]  45% 27000/60000 detail` — or a plain count when the total is unknown. */
export function renderBar(label: string, done: number, total: number | undefined, detail = ''): string {
  if (!total) return `${label} ${done} ${detail}`.trimEnd();
  const frac = Math.max(0, Math.min(1, done / total));
  const width = 24;
  const fill = Math.round(frac * width);
  const pct = `${Math.floor(frac * 100)}`.padStart(3);
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${done}/${total} ${detail}`.trimEnd();
}

/** Formats a table with aligned columns (first row is the header). */
export function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((v, c) => String(v).padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A metric with 4 decimals, or n/a when it was not measured. */
export function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : v.toFixed(4);
}
