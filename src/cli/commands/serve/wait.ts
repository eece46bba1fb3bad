import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelServer } from '../../../serve/index.js';
import { CommandError } from '../../command.js';
import { formatDuration } from '../../duration-flag.js';
import type { Output } from '../../output.js';
import { noticeWait } from '../../wait-notice.js';

/**
 * A repository path that does not exist is almost always a typo: fail at once naming it (as TF Serving does
 * for its base path), unless the user said the model may arrive later (`--wait-for-model`).
 */
export function checkRepository(repo: string, waitForModelMs: number | undefined): void {
  if (waitForModelMs !== undefined || existsSync(repo)) return;
  throw new CommandError(
    'SERVE_REPO_NOT_FOUND',
    `model repository ${repo} does not exist; check --repo, publish a model there first (\`distml select --repo ${repo} ...\`), or pass --wait-for-model DURATION to wait for it`,
  );
}

/** Where the server looks and, when versions were found but failed, why none loaded. */
function describeWait(server: ModelServer, repo: string, model: string): string {
  const where = join(repo, model, '<version>');
  const failed = server.versions.status().filter((s) => s.error);
  if (failed.length) {
    const why = failed.map((s) => `version ${s.version}: ${s.error ?? ''}`).join('; ');
    return `a loadable version of model ${model} in ${where}/ (${why})`;
  }
  const missing = !existsSync(repo) ? `${repo} does not exist yet` : `no version under ${join(repo, model)}`;
  return `a version of model ${model} in ${where}/ (${missing})`;
}

export interface ModelWait {
  /** Rejects when --wait-for-model's deadline passes with no version loaded; never resolves. */
  expired: Promise<never>;
  close(): void;
}

/**
 * While the server has no loadable version, says what it waits for and where (once after a few seconds, then
 * every 30 s); with a deadline, gives up when it passes.
 */
export function watchModelWait(
  server: ModelServer,
  out: Output,
  o: { repo: string; model: string; deadlineMs?: number },
): ModelWait {
  let deadline: NodeJS.Timeout | undefined;
  const stopNotice = noticeWait(out, {
    what: () => describeWait(server, o.repo, o.model),
    fields: () => ({ model: o.model, repo: o.repo }),
  });
  const check = setInterval(() => {
    if (server.ready) close();
  }, 250);
  check.unref();
  const close = () => {
    clearInterval(check);
    clearTimeout(deadline);
    stopNotice();
  };
  const expired = new Promise<never>((_, reject) => {
    if (o.deadlineMs === undefined) return;
    deadline = setTimeout(() => {
      close();
      reject(
        new CommandError(
          'SERVE_NO_MODEL',
          `no version of ${o.model} could be loaded within --wait-for-model ${formatDuration(o.deadlineMs!)}: waited for ${describeWait(server, o.repo, o.model)}`,
        ),
      );
    }, o.deadlineMs);
  });
  expired.catch(() => undefined); // handled by whoever races it; never an unhandled rejection
  return { expired, close };
}
