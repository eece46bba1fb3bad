/** A learning rate for a (0-based) epoch. */
export type LrSchedule = (epoch: number, baseLr: number) => number;

/** The book's `decay` (Listing 9.6): 1e-3 for epochs 0–2, 1e-4 for epochs 3–6, 1e-5 after. */
export const bookDecay: LrSchedule = (epoch) => (epoch < 3 ? 1e-3 : epoch < 7 ? 1e-4 : 1e-5);

/** The base learning rate throughout. */
export const constantLr: LrSchedule = (_epoch, baseLr) => baseLr;

export const SCHEDULES = { book: bookDecay, constant: constantLr } as const;
export type ScheduleName = keyof typeof SCHEDULES;
