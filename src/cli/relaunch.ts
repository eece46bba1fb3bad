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
