/** One incarnation of a simulated process: killed, it answers nothing more (its pending calls never end). */
export interface SimProcess {
  readonly id: string;
  alive: boolean;
}

/** A promise that never settles: what a killed process's calls turn into. */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}
