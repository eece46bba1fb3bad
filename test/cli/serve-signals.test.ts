import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { owned } from './run-cli.js';

const SIGNALS = fileURLToPath(new URL('../../src/cli/commands/serve/signals.js', import.meta.url));

/**
 * A process that stops as `distml serve` does: it prints "ready"; on the first signal "stop <SIGNAL>"; on
 * later ones "again" (when `again` is given). Its stop settles at once ('now'), when `again` is first called
 * ('again'), or never; once stopped it prints "stopped", disposes the handlers and, with `linger`, stays up
 * until killed. Everything waits on what the process prints, never on time.
 */
function stopper(o: { again: boolean; settle: 'now' | 'again' | 'never'; linger: boolean }): ChildProcess {
  const script = `
    const { stopOnSignal } = await import(${JSON.stringify(SIGNALS)});
    let settle = () => {};
    const s = stopOnSignal({
      signals: ['SIGTERM', 'SIGINT', 'SIGHUP'],
      stop: (signal) => {
        console.log('stop ' + signal);
        return new Promise((r) => { settle = r; if (${JSON.stringify(o.settle)} === 'now') r(); });
      },
      ${o.again ? "again: () => { console.log('again'); if (" + JSON.stringify(o.settle) + " === 'again') settle(); }," : ''}
    });
    const keep = setInterval(() => {}, 1000);
    console.log('ready');
    await s.stopped;
    s.dispose();
    console.log('stopped');
    if (!${o.linger}) clearInterval(keep);
  `;
  return owned(
    spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
}

/** Resolves once `line` has been printed (60 s at most). */
function printed(child: ChildProcess, lines: string[], line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${line}" within 60 s; got ${JSON.stringify(lines)}`)),
      60_000,
    );
    const check = () => {
      if (lines.includes(line)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    check();
  });
}

function collect(child: ChildProcess): string[] {
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  return lines;
}

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

const children: ChildProcess[] = [];

/**
 * Starts a stopper, then for each step sends its signal and, when the step names one, waits for that line;
 * resolves with what it printed and how it exited.
 */
async function play(
  o: Parameters<typeof stopper>[0],
  steps: [NodeJS.Signals, string?][],
): Promise<{ lines: string[]; exit: { code: number | null; signal: NodeJS.Signals | null } }> {
  const child = stopper(o);
  children.push(child);
  const lines = collect(child);
  await printed(child, lines, 'ready');
  for (const [signal, line] of steps) {
    child.kill(signal);
    if (line) await printed(child, lines, line);
  }
  return { lines, exit: await exited(child) };
}

describe('distml serve stops on a signal (one path for server and gateway)', { timeout: 120_000 }, () => {
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('with "again" (the gateway): the first signal stops, later ones call again, and it exits 0', async () => {
    const r = await play({ again: true, settle: 'again', linger: false }, [
      ['SIGHUP', 'stop SIGHUP'],
      ['SIGTERM', 'stopped'],
    ]);
    assert.deepEqual(r.lines, ['ready', 'stop SIGHUP', 'again', 'stopped']);
    assert.deepEqual(r.exit, { code: 0, signal: null });
  });

  it('without "again" (the model server): a second signal ends the process the default way', async () => {
    const r = await play({ again: false, settle: 'never', linger: false }, [
      ['SIGINT', 'stop SIGINT'],
      ['SIGTERM'],
    ]);
    assert.deepEqual(r.exit, { code: null, signal: 'SIGTERM' });
    assert.deepEqual(r.lines, ['ready', 'stop SIGINT']);
  });

  it('once stopped and disposed, a signal is no longer caught', async () => {
    const r = await play({ again: true, settle: 'now', linger: true }, [['SIGTERM', 'stopped'], ['SIGTERM']]);
    assert.deepEqual(r.exit, { code: null, signal: 'SIGTERM' });
    assert.deepEqual(r.lines, ['ready', 'stop SIGTERM', 'stopped']);
  });
});
