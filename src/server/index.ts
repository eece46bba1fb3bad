// The control plane's public face: `distml server` (startServer), the CLI's client of it, and the files
// that say where a workspace's server is.
export { ServerError, type ServerErrorCode } from './errors.js';
export { connect, ensureServer, ServerClient } from './client.js';
export { liveServerInfo, readServerInfo, serverPaths, type ServerInfo } from './files.js';
export { collectLogs, type StepLogs } from './logs.js';
export { startServer, type RunningServer, type ServerOptions } from './server.js';
export { stopUnownedRun } from './stop-direct.js';
export { engineGone, runRow, type RunRow } from './run-row.js';
