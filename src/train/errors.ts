/** Stable codes for training failures, one meaning each. */
export type TrainErrorCode =
  /** The loss became NaN or infinite. */
  | 'TRAIN_NON_FINITE_LOSS'
  /** An option passed to a training function is out of range or inconsistent (e.g. more servers than parameters). */
  | 'TRAIN_BAD_OPTION'
  /** The cluster environment (MASTER_ADDR/…, TF_CONFIG, DISTML_PS_*) breaks the contract. */
  | 'TRAIN_BAD_ENV'
  | 'TRAIN_CHECKPOINT'
  | 'TRAIN_CHECKPOINT_MISMATCH'
  | 'TRAIN_NO_DATA'
  /** The job was stopped before it finished (an abort, too few workers in time, the agent stopped). */
  | 'TRAIN_ABORTED'
  /** This worker was dropped from the group (missed heartbeats). */
  | 'TRAIN_MEMBER_REMOVED'
  /** An elastic job failed for a reason that is not a TrainError of its own. */
  | 'TRAIN_JOB_FAILED'
  /** A process of the job (worker or parameter server) exited with a failure or without its result. */
  | 'TRAIN_PROCESS_FAILED'
  /** A process of the job did not become ready in time. */
  | 'TRAIN_START_TIMEOUT'
  /** A parameter server could not be reached or did not answer the connection. */
  | 'TRAIN_PEER_UNREACHABLE'
  /** A connection to a parameter server was lost, closed or went silent. */
  | 'TRAIN_PEER_LOST'
  /** A parameter server answered a request with an error. */
  | 'TRAIN_PEER_REFUSED'
  /** A parameter server sent bytes that are not the protocol. */
  | 'TRAIN_PROTOCOL';

/** The train module's one error class: `message` says what went wrong and how to fix it. */
export class TrainError extends Error {
  override readonly name = 'TrainError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: TrainErrorCode,
    message: string,
  ) {
    super(message);
  }
}
