/** `v` floored when it is a finite number above zero, else the default `d`. */
export function positive(v: number | undefined, d: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : d;
}

/** `v` floored when it is a finite number of zero or more, else the default `d`. */
export function nonNegative(v: number | undefined, d: number): number {
  return v !== undefined && Number.isFinite(v) && v >= 0 ? Math.floor(v) : d;
}
