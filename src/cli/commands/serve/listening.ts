// What `distml serve` prints once it listens, in-process or as a step the workspace's server runs.
/** The line `serve` prints once it listens, for a model server or a gateway (also when run by the server). */
export function describeListening(r: Record<string, unknown>): string {
  const url = String(r['url']);
  if (r['gateway'])
    return `gateway listening on ${url} (${(r['models'] as string[]).join(', ')} from ${String(r['repo'])}); status at ${url}/gateway/status`;
  return `listening on ${url} (model ${String(r['model'])} from ${String(r['repo'])})`;
}
