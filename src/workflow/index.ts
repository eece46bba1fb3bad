export { WorkflowError, formatPath, type SpecProblem, type WorkflowErrorCode } from './errors.js';
export {
  BUILTIN_KINDS,
  type BuiltinKind,
  type Template,
  type WorkflowSpec,
  type WorkflowInput,
} from './spec/schema.js';
export {
  analyseWorkflowYaml,
  checkWorkflow,
  loadWorkflowFile,
  parseWorkflowYaml,
  workflowToYaml,
  type WorkflowAnalysis,
} from './spec/parse.js';
export { checkRunName } from './spec/names.js';
export { parseDuration, parseMemory } from './expr/quantity.js';
export { step, task, templates, workflow, type CallOptions, type TemplateOptions } from './builder.js';
export { runDirs, fileName, type EngineEvent, type RunJob } from './engine/context.js';
export { SYNC_ANNOTATION } from './engine/execution.js';
export { isDaemon } from './engine/leaf.js';
export { lastJson } from './engine/outputs.js';
export { StepPreemptions, isPreemptedExit, PREEMPTED_EXIT_CODE } from './engine/preempt.js';
export { BUILTINS, trainGang, type BuiltinSpec, type GangShape } from './steps/builtin.js';
export { resumeSuspended, setSuppliedOutputs } from './engine/suspend.js';
export {
  executeRun,
  isEngineAlive,
  markStopped,
  prepareRestart,
  reapLeftovers,
  submitRun,
  type ExecuteOptions,
} from './engine/run.js';
export { nodeJson, renderRun, renderTree, runJson, TREE_HEADER, treeRows } from './render.js';
