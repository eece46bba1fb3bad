// How CLI commands reach the workspace's server: the one running, or one started on demand that stops
// after an idle timeout, so `distml run` stays one command.
import { connect, ensureServer, type ServerClient } from '../server/index.js';
import { DISTML_COMMAND } from './commands/run-engine.js';

/** Idle timeout of a server a CLI starts on demand. */
export const AUTO_IDLE_TIMEOUT = '5m';

/** Starts the workspace's server in the background with `flags` (e.g. `--cores=2`); returns its client. */
export function startWorkspaceServer(workspace: string, flags: string[]): Promise<ServerClient> {
  const argv = [...DISTML_COMMAND, 'server', 'start', '--foreground', `--workspace=${workspace}`, ...flags];
  return ensureServer(workspace, argv);
}

/** The running server, or one started on demand with the idle timeout given (default AUTO_IDLE_TIMEOUT). */
export async function workspaceServer(workspace: string, idleTimeout?: string): Promise<ServerClient> {
  return (
    (await connect(workspace)) ??
    startWorkspaceServer(workspace, [`--idle-timeout=${idleTimeout ?? AUTO_IDLE_TIMEOUT}`])
  );
}
