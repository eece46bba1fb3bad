import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplacementBudget } from '../../src/train/distributed/index.js';

describe('replacing local workers', () => {
  it('replaces a worker that died, up to --max-restarts, and names the cause', () => {
    const budget = new ReplacementBudget(2);
    const first = budget.onExit({ code: null, signal: 'SIGKILL' }, false);
    assert.equal(first.replace, true);
    assert.match(first.reason ?? '', /killed by SIGKILL; starting a replacement \(1 of --max-restarts 2\)/);
    const second = budget.onExit({ code: 1, signal: null }, false);
    assert.deepEqual(second.replace && second.restarts, 2);
    assert.match(second.reason ?? '', /exited with code 1/);
    const third = budget.onExit({ code: null, signal: 'SIGSEGV' }, false);
    assert.equal(third.replace, false);
    assert.match(third.reason ?? '', /killed by SIGSEGV; not replaced: --max-restarts 2 used up/);
    assert.equal(budget.restarts, 2);
  });

  it('starts nothing for a clean exit or while the job is ending, and spends no budget on them', () => {
    const budget = new ReplacementBudget(1);
    assert.deepEqual(budget.onExit({ code: 0, signal: null }, false), { replace: false });
    assert.deepEqual(budget.onExit({ code: null, signal: 'SIGKILL' }, true), { replace: false });
    assert.equal(budget.restarts, 0);
    assert.equal(budget.onExit({ code: 1, signal: null }, false).replace, true);
  });

  it('--max-restarts 0 replaces nobody', () => {
    const d = new ReplacementBudget(0).onExit({ code: null, signal: 'SIGKILL' }, false);
    assert.equal(d.replace, false);
    assert.match(d.reason ?? '', /--max-restarts 0 used up/);
  });
});
