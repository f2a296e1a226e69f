// How many workers a page may have (the settings check these without loading the pool).
export const MIN_WORKERS = 1;
export const MAX_WORKERS = 16;

/** The default worker count: half the logical cores, between 1 and 12. */
export function autoWorkerCount() {
  const cores = Number(globalThis.navigator?.hardwareConcurrency) || 2;
  return Math.min(12, Math.max(1, Math.floor(cores / 2)));
}
