import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { cli, CLI, runName, sandbox } from '../workflow/helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

/** Three steps in sequence, each a short sleep: enough engine events and seconds for several redraws. */
const pipeline = box.file(
  'three.yaml',
  `kind: Workflow
metadata: {generateName: three-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: one, template: nap}
    - - {name: two, template: nap}
    - - {name: three, template: nap}
  - name: nap
    container: {command: [sh, -c, 'sleep 1; echo rested']}
`,
);

const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

/** Runs `distml ARGS` under `script`, which gives it a pseudo-terminal; resolves with everything it drew. */
function onTerminal(args: string[]): Promise<{ code: number; screen: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

describe('output for people', () => {
  it('prints plain lines, not JSON, when not on a terminal; --json keeps the JSON stream', async () => {
    const r = await cli(['run', pipeline, ws]);
    assert.equal(r.code, 0, r.stderr);
    const all = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
    assert.deepEqual(all.filter(isJson), [], `no JSON without --json:\n${r.stderr}`);
    // One line per event: time, step, phase (and message).
    assert.match(r.stderr, /^\d\d:\d\d:\d\d {2}two {2}Running$/m);
    assert.match(r.stderr, /^\d\d:\d\d:\d\d {2}two {2}Succeeded$/m);
    // The same final summary as on a terminal: the tree, and the run's phase on stdout.
    assert.match(r.stderr, /^STEP +TEMPLATE +DURATION +MESSAGE$/m);
    assert.match(r.stderr, /^└─ ✔ three +nap +\d/m);
    assert.match(r.stdout, /^three-\w+ Succeeded$/m);

    const j = await cli(['run', pipeline, ws, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const events = j.stderr.split('\n').filter(Boolean);
    assert.ok(events.length > 3 && events.every(isJson), j.stderr);
    assert.ok(runName(j).startsWith('three-'));
    assert.ok(isJson(j.stdout.trim()), j.stdout);
  });

  it('draws the live tree on a terminal with its header once, however often it redraws', async () => {
    const r = await onTerminal(['run', pipeline, ws]);
    assert.equal(r.code, 0, r.screen);
    const headers = r.screen.match(/STEP +TEMPLATE +DURATION/g) ?? [];
    const redraws = r.screen.match(new RegExp(`${String.fromCharCode(27)}\\[\\d+A`, 'g')) ?? [];
    assert.ok(redraws.length >= 3, `the tree was redrawn (${redraws.length} times):\n${r.screen}`);
    assert.equal(headers.length, 1, `one header line:\n${r.screen}`);
    assert.match(r.screen, /✔ three/);
    assert.doesNotMatch(r.screen, /"event":/);
  });
});
