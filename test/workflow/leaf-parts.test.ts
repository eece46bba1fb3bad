// The pure parts of running a leaf step: the verdict on an attempt's exit, and the daemon's first-line watch.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LineWatch } from '../../src/workflow/engine/readiness.js';
import { failureDetail, judgeExit, type ExitReport } from '../../src/workflow/engine/verdict.js';

const exit = (e: Partial<ExitReport>): ExitReport => ({ code: 0, signal: null, timedOut: false, ...e });
const quiet = { aborted: false, stdout: '', stderrTail: () => '' };

describe('attempt verdict', () => {
  it('leaves a clean exit to the outputs', () => {
    assert.equal(judgeExit(exit({}), quiet), undefined);
  });
  it('is Error when the process could not start, Failed on a non-zero exit or a signal', () => {
    const r = judgeExit(exit({ code: null, error: new Error('spawn nope ENOENT') }), quiet)!;
    assert.equal(r.phase, 'Error');
    assert.match(r.message!, /cannot start: spawn nope ENOENT/);
    const f = judgeExit(exit({ code: 3 }), { ...quiet, stderrTail: () => 'a\nboom\n' })!;
    assert.deepEqual([f.phase, f.message, f.outputs.exitCode], ['Failed', 'exit code 3: boom', 3]);
    const k = judgeExit(exit({ code: null, signal: 'SIGKILL' }), quiet)!;
    assert.equal(k.message, 'killed by SIGKILL');
  });
  it('says stopped, timed out or not ready before looking at the exit code', () => {
    assert.equal(judgeExit(exit({ code: 143 }), { ...quiet, aborted: true })!.message, 'stopped');
    assert.equal(
      judgeExit(exit({ code: 143, timedOut: 'exceeded timeout 1s' }), quiet)!.message,
      'exceeded timeout 1s',
    );
    assert.match(
      judgeExit(exit({ code: null, notReadyAfterMs: 2000 }), quiet)!.message!,
      /not ready within 2s/,
    );
  });
  it('prefers the distml JSON error to the last stderr line, and skips the attempt banner', () => {
    const stdout = '{"error":{"code":"X","message":"no such model"}}\n';
    assert.equal(failureDetail(stdout, 'other'), ': no such model');
    assert.equal(failureDetail('', '--- attempt 1 at t: cmd\n'), '');
  });
});

describe('daemon first-line watch', () => {
  it('reads only what was appended since the last look, and sees a line once it ends', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-watch-'));
    try {
      const file = join(dir, 'out.log');
      const watch = new LineWatch(file);
      assert.equal(watch.hasNewline(), false, 'no file yet');
      writeFileSync(file, 'x'.repeat(10_000));
      assert.equal(watch.hasNewline(), false, 'a line still being written');
      appendFileSync(file, 'listening on http://127.0.0.1:1\n');
      assert.equal(watch.hasNewline(), true);
      rmSync(file);
      assert.equal(watch.hasNewline(), true, 'once ready stays ready');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
