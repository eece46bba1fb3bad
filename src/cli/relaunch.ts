import { fmt, type Output } from './output.js';

/**
 * The arguments a launcher passes on to the processes it starts: its own, minus the flags (`--x v` or
 * `--x=v`) that configure only the launcher, plus `--json` so the children's progress can be relayed.
 */
export function childArgv(argv: readonly string[], launcherOnly: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.replace(/^--/, '').split('=')[0] ?? '';
    if (a.startsWith('--') && launcherOnly.includes(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  return out.includes('--json') ? out : [...out, '--json'];
}

/**
 * Passes a child's JSON-line progress on: as our own bar and epoch lines on a terminal, unchanged otherwise.
 * `onOther` sees the events that are neither progress nor epoch ends.
 */
export function relayProgress(
  out: Output,
  line: string,
  bar: { current: ReturnType<Output['progress']> },
  epochs: number,
  onOther?: (e: Record<string, unknown>) => void,
): void {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  if (!out.interactive) {
    out.event(e);
    return;
  }
  if (e['event'] === 'progress') {
    bar.current.update(Number(e['done']), Number(e['total']), String(e['detail'] ?? ''));
  } else if (e['event'] === 'epoch') {
    out.info(
      `epoch ${String(e['epoch'])}/${epochs}: loss ${fmt(e['loss'] as number)} acc ${fmt(e['accuracy'] as number)} val_acc ${fmt(e['valAccuracy'] as number | undefined)}`,
    );
    bar.current = out.progress('train');
  } else onOther?.(e);
}
