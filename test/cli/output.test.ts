import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
    assert.match(r.stderr, /^STEP +TEMPLATE +DURATION +PROGRESS +MESSAGE$/m);
    assert.match(r.stderr, /^└─ ✔ three +nap +\d/m);
    assert.match(r.stdout, /^three-\w+ Succeeded$/m);

    const j = await cli(['run', pipeline, ws, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const events = j.stderr.split('\n').filter(Boolean);
    assert.ok(events.length > 3 && events.every(isJson), j.stderr);
    assert.ok(runName(j).startsWith('three-'));
    assert.ok(isJson(j.stdout.trim()), j.stdout);
  });

  it('says in a plain log when a step has waited a few seconds for cores', async () => {
    const file = box.file(
      'queue.yaml',
      `kind: Workflow
metadata: {generateName: queue-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: busy}
      - {name: second, template: busy}
  - name: busy
    resources: {cores: 1}
    container: {command: [sh, -c, 'sleep 6']}
`,
    );
    const r = await cli(['run', file, '--cores=1', ws]);
    assert.equal(r.code, 0, r.stderr);
    // Whichever started second waited for the first one's core, and the log says so once.
    const waits =
      r.stderr.match(/^\d\d:\d\d:\d\d {2}(first|second) {2}Pending {2}waiting for 1 cores$/gm) ?? [];
    assert.equal(waits.length, 1, r.stderr);
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

describe('progress in the pipeline tree', () => {
  it('shows a training step as steps done of all epochs, a fan-out as items done, in `get` too', async () => {
    const gate = `${box.dir}/gate`;
    const progress = (epoch: number, done: number) =>
      `echo '{"event":"progress","task":"epoch ${epoch}/2","done":${done},"total":10}' >&2`;
    // Each item reports epoch 1 half done, waits for the test to open the gate, then reports epoch 2 done.
    const file = box.file(
      'progress.yaml',
      `kind: Workflow
metadata: {generateName: progress-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: fit, template: fit, withItems: [a, b]}
  - name: fit
    script:
      command: [sh]
      source: |
        ${progress(1, 5)}
        i=0; while [ ! -e ${gate} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
        ${progress(2, 10)}
`,
    );
    const progWs = `--workspace=${box.dir}/progress-ws`;
    const run = cli(['run', file, '--json', progWs]);
    type Status = { status: { nodes: Record<string, { displayName: string; progress?: string }> } };
    let seen: Record<string, string | undefined> = {};
    let name: string | undefined;
    try {
      // While both items train: each is 5 steps into 20 (epoch 1 of 2, 10 steps each); none has finished.
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && !(seen['fit(0:a)'] === '5/20' && seen['fit(1:b)'] === '5/20')) {
        const list = await cli(['list', '--json', progWs]);
        name = (JSON.parse(list.stdout || '[]') as { name: string }[])[0]?.name;
        if (name) {
          const got = JSON.parse((await cli(['get', name, '-o', 'json', progWs])).stdout) as Status;
          seen = Object.fromEntries(Object.values(got.status.nodes).map((n) => [n.displayName, n.progress]));
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      writeFileSync(gate, '');
    }
    assert.equal(seen['fit(0:a)'], '5/20');
    assert.equal(seen[name ?? ''], '0/2', 'the fan-out: no item done yet');
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    const after = await cli(['get', runName(r), progWs]);
    assert.match(after.stdout, /STEP +TEMPLATE +DURATION +PROGRESS +MESSAGE/);
    assert.match(after.stdout, /✔ fit\(0:a\) +fit +[\d.]+s +20\/20/);
    assert.match(after.stdout, /✔ progress-\w+ +main +[\d.]+s +2\/2/);
  });
});
