// Events as people read them in a log (CI, `| tee`, a file): one line each, time first, as `kubectl` and
// `argo` print when their output is not a terminal. `--json` keeps the machine stream instead.

const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** `HH:MM:SS` in local time: a log line's clock, short enough to keep the columns readable. */
export function clock(at: Date = new Date()): string {
  return at.toTimeString().slice(0, 8);
}

const num = (v: unknown, digits = 4): string =>
  typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a';

/** The words after the time for one event: what (step, task), its phase or figures, and its message. */
function describe(e: Record<string, unknown>): string[] {
  switch (e['event']) {
    case 'node':
      return [text(e['name']), text(e['phase']), e['memoHit'] ? 'memoized' : text(e['message'] ?? '')];
    case 'run':
      return [`run ${text(e['run'])}`, text(e['phase']), text(e['message'] ?? '')];
    case 'progress': {
      const total = typeof e['total'] === 'number' && e['total'] > 0 ? e['total'] : undefined;
      const done = Number(e['done']);
      const pct = total ? ` (${Math.floor((Math.min(done, total) / total) * 100)}%)` : '';
      return [text(e['task']), `${done}${total ? `/${total}` : ''}${pct}`, text(e['detail'] ?? '')];
    }
    case 'epoch':
      return [
        `epoch ${text(e['epoch'])}`,
        'done',
        `loss ${num(e['loss'])} acc ${num(e['accuracy'])} val_loss ${num(e['valLoss'])} val_acc ${num(e['valAccuracy'])}`,
      ];
    default: {
      const { event, ...rest } = e;
      const fields = Object.entries(rest)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${text(v)}`);
      return [text(event), fields.join(' ')];
    }
  }
}

/** One plain line for an engine, training or server event: `time  step  phase  message`. */
export function plainLine(e: Record<string, unknown>, at: Date = new Date()): string {
  return [clock(at), ...describe(e)]
    .filter((part) => part !== '')
    .join('  ')
    .replace(/\s*\n\s*/g, ' ');
}
