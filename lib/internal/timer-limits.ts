/**
 * The longest delay one timer can wait, in milliseconds: `setTimeout` (under RxJS's `asyncScheduler` too) fires at
 * once for anything longer, so options that become timers are bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647;
