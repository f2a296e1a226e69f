// The training modes: 'main' (no workers; the main thread plays the sync schedule's tasks), 'sync' and
// 'async' (robotrain.schedule). The settings check them without loading the trainer.
export const MODES = Object.freeze(['main', 'sync', 'async']);
