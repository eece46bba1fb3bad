// Argo's lifecycle hooks (docs/lifecyclehook.md), on a step, a task or the whole workflow. A hook named `exit`
// runs once what it hooks has ended, whatever the outcome (a step-level exit handler). Any other hook has an
// `expression` (over `steps.X.status`, `tasks.X.status`, `workflow.status` and the usual variables): it runs
// once, beside what it hooks, the first time the expression is true when that changes state (starts, ends).
// What it hooks counts as done only once its hooks have ended (Argo waits for hooked nodes to be fulfilled).
// A hook's own failure is recorded on its node and does not change the phase of what it hooks; the workflow's
// `exit` hook is the exit handler, whose failure fails the run (as with `onExit`).
import { evaluate, expandEnv } from '../expr/lang/evaluate.js';
import { substitute } from '../expr/template.js';
import type { Hooks } from '../spec/schema.js';
export { stepHooks } from '../spec/schema.js';
import { type Call, type NodeResult, type RunContext } from './context.js';

/** Runs a template as a node (execution.ts's execNode, passed in so the two files do not import each other). */
export type ExecNode = (ctx: RunContext, call: Call, base: Map<string, string>) => Promise<NodeResult>;

/** The hooks of one step, task or workflow, and the hook nodes started so far. */
export class HookSet {
  private readonly started = new Map<string, Promise<NodeResult>>();

  /** `parent` is the node the hook nodes hang under; `base` names them (`<base>.hooks.<hook>`). */
  constructor(
    private readonly ctx: RunContext,
    private readonly hooks: Hooks | undefined,
    private readonly parent: string,
    private readonly base: { id: string; displayName: string },
    private readonly exec: ExecNode,
  ) {}

  /** Starts every expression hook that is true in `scope` and has not run yet. */
  fire(scope: Map<string, string>): void {
    for (const [name, hook] of Object.entries(this.hooks ?? {})) {
      if (name === 'exit' || this.started.has(name) || hook.expression === undefined) continue;
      let go: unknown;
      try {
        go = evaluate(hook.expression, expandEnv(scope));
      } catch (err) {
        go = err;
      }
      if (go instanceof Error || typeof go !== 'boolean') {
        const why = go instanceof Error ? go.message : `must be true or false, got ${JSON.stringify(go)}`;
        this.started.set(name, Promise.resolve(this.refuse(name, hook.template, why)));
      } else if (go) this.started.set(name, this.start(name, scope));
    }
  }

  /** Runs the `exit` hook (if any) with `scope`, which now holds the outcome; resolves when it has ended. */
  async exit(scope: Map<string, string>): Promise<NodeResult | undefined> {
    if (!this.hooks?.exit || this.started.has('exit')) return undefined;
    const run = this.start('exit', scope);
    this.started.set('exit', run);
    return run;
  }

  /** Waits for every hook started so far. */
  async settle(): Promise<void> {
    await Promise.all(this.started.values());
  }

  private start(name: string, scope: Map<string, string>): Promise<NodeResult> {
    const hook = this.hooks![name]!;
    const args = new Map((hook.arguments?.parameters ?? []).map((a) => [a.name, substitute(a.value, scope)]));
    return this.exec(
      this.ctx,
      {
        template: hook.template,
        id: `${this.base.id}.hooks.${name}`,
        parent: this.parent,
        displayName: `${this.base.displayName}.hooks.${name}`,
        args,
        artifacts: new Map(),
      },
      scope,
    );
  }

  private refuse(name: string, template: string, why: string): NodeResult {
    const id = `${this.base.id}.hooks.${name}`;
    const message = `hook "${name}" expression: ${why}`;
    this.ctx.store.ensureNode({
      run: this.ctx.run,
      id,
      parent: this.parent,
      displayName: `${this.base.displayName}.hooks.${name}`,
      template,
      type: 'Pod',
    });
    this.ctx.store.updateNode(this.ctx.run, id, { phase: 'Error', message, finishedAt: Date.now() });
    return { phase: 'Error', outputs: {}, message };
  }
}
