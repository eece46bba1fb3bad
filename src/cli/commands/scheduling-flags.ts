// The flags that say who a submission is and where it waits, shared by every command that submits work to
// the workspace's server (`run`, `train`, `serve`): one declaration, one meaning, one help text.
import { userInfo } from 'node:os';
import { z } from 'zod';
import { flag, type FlagValues } from '../command.js';
import { durationFlag } from '../duration-flag.js';
import { envValue } from '../env.js';

export const schedulingFlags = {
  user: flag(
    z.string().min(1, 'must name a user').optional(),
    'the user the work is scheduled as (fair share is per user)',
    { valueName: 'NAME', defaultText: '$DISTML_USER, else the OS user' },
  ),
  queue: flag(
    z.string().min(1, 'must name a queue').optional(),
    "the queue of the workspace's queue file (`distml queue apply`) the work waits in",
    { valueName: 'QUEUE', defaultText: 'default' },
  ),
  priority: flag(
    z.string().min(1, 'must name a priority class').optional(),
    "a priority class of the queue file: higher classes are admitted first and may preempt lower ones' trainings",
    { valueName: 'CLASS', defaultText: "the queue file's defaultPriorityClass" },
  ),
  'idle-timeout': flag(
    durationFlag(0).optional(),
    'when this starts the server: it stops after this long without runs (0: never)',
    { valueName: 'DURATION', defaultText: '5m' },
  ),
};

type SchedulingValues = FlagValues<typeof schedulingFlags>;

/** The scheduling part of a run's options for POST /api/v1/runs. */
export function schedulingOptions(f: SchedulingValues): { user: string; queue?: string; priority?: string } {
  return {
    user: f.user ?? envValue('DISTML_USER') ?? userInfo().username,
    ...(f.queue ? { queue: f.queue } : {}),
    ...(f.priority ? { priority: f.priority } : {}),
  };
}
