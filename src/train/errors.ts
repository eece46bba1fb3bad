/** Stable codes for training failures. */
export type TrainErrorCode =
  | 'TRAIN_NON_FINITE_LOSS'
  | 'TRAIN_BAD_OPTION'
  | 'TRAIN_CHECKPOINT'
  | 'TRAIN_CHECKPOINT_MISMATCH'
  | 'TRAIN_NO_DATA';

/** The train module's one error class: `message` says what went wrong and how to fix it. */
export class TrainError extends Error {
  override readonly name = 'TrainError';
  constructor(
    readonly code: TrainErrorCode,
    message: string,
  ) {
    super(message);
  }
}
