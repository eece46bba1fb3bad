// Test figures a workspace vouches for. model.json is a plain file anyone can edit, so a recorded
// testAccuracy proves nothing by itself; selection may skip evaluating a package only when the figures carry
// an HMAC made with this workspace's secret key over (weights digest, test figures, test-data fingerprint).
// The key lives in the workspace (created 0600 on first use), so a package from elsewhere, or one whose
// figures were edited, is evaluated again.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What of a manifest the attestation covers. */
export interface Scored {
  metrics: Record<string, number>;
  lineage: Record<string, unknown>;
  weightsSha256?: string;
}

/** Where a workspace keeps its key (never inside a model package). */
export const SCORE_KEY_FILE = 'score.key';
/** The lineage field holding the HMAC. */
export const ATTESTATION = 'testAttestation';

/** The workspace's score key, created (32 random bytes, mode 0600) by whichever process needs it first. */
export function workspaceScoreKey(workspace: string): Buffer {
  const file = join(workspace, SCORE_KEY_FILE);
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(workspace, { recursive: true });
  // Written whole under a temp name, then linked into place: link fails if another process won the race,
  // and nobody ever reads a half-written key.
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/** The recorded test figures a package carries, or undefined when it lacks any of them. */
function figures(m: Scored): string | undefined {
  const { testAccuracy, testLoss, testCount } = m.metrics;
  const fingerprint = m.lineage['testFingerprint'];
  if (m.weightsSha256 === undefined || typeof fingerprint !== 'string') return undefined;
  if (testAccuracy === undefined || testLoss === undefined || testCount === undefined) return undefined;
  return JSON.stringify([m.weightsSha256, testAccuracy, testLoss, testCount, fingerprint]);
}

/** The HMAC vouching for a manifest's test figures, or undefined when it records none. */
export function attestScore(key: Uint8Array, m: Scored): string | undefined {
  const f = figures(m);
  return f === undefined ? undefined : createHmac('sha256', key).update(f).digest('hex');
}

/** True when the manifest's test figures carry this workspace's HMAC over exactly these weights and data. */
export function isAttested(key: Uint8Array, m: Scored): boolean {
  const expected = attestScore(key, m);
  const given = m.lineage[ATTESTATION];
  if (expected === undefined || typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
