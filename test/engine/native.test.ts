import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError } from '../../src/engine/index.js';
import { loadAddonFrom } from '../../src/engine/native.js';

describe('native addon loading', () => {
  it('explains how to build when the addon is missing', () => {
    assert.throws(
      () => loadAddonFrom(['/nonexistent/distml_native.node']),
      (error: unknown) => {
        assert.ok(error instanceof EngineError);
        assert.equal(error.code, 'ENGINE_NOT_BUILT');
        assert.match(error.message, /make build/);
        assert.match(error.message, /apt-get install libtorch-dev/);
        assert.match(error.message, /LIBTORCH=/);
        return true;
      },
    );
  });
});
