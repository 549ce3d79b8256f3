/** Progress events emitted by long-running library code; the CLI decides how to show them. */
export interface ProgressEvent {
  task: string;
  done: number;
  total: number;
  /** free-form detail, e.g. the item just finished */
  item?: string;
  /** extra figures, e.g. { loss: 0.01 } */
  values?: Record<string, number>;
}

export type ProgressSink = (e: ProgressEvent) => void;

export const silent: ProgressSink = () => {};
