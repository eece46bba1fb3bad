import type { NodeRecord } from '../metadata/index.js';
import { TREE_HEADER, treeRows } from '../workflow/index.js';

/** Widths of STEP, TEMPLATE, DURATION and PROGRESS; MESSAGE takes what is left of the terminal's width. */
const FIXED = [40, 16, 9, 14];
const GAP = 2;

/** Cuts `text` to `width` characters (an ellipsis marks the cut) and pads it to exactly that width. */
function cell(text: string, width: number): string {
  const chars = [...text];
  const shown = chars.length > width ? [...chars.slice(0, Math.max(0, width - 1)), '…'] : chars;
  return shown.join('') + ' '.repeat(Math.max(0, width - shown.length));
}

/** One row at fixed column widths, never wider than `columns` (a wrapped line would break the redraw). */
export function fitRow(row: string[], columns: number): string {
  const message = Math.max(8, columns - 1 - FIXED.reduce((a, w) => a + w + GAP, 0));
  const widths = [...FIXED, message];
  const line = row.map((v, c) => cell(v, widths[c] ?? 0)).join(' '.repeat(GAP));
  return [...line]
    .slice(0, Math.max(1, columns - 1))
    .join('')
    .trimEnd();
}

export interface LiveTree {
  /** Redraws the tree (at most ten times a second unless `final`). */
  draw(final?: boolean): void;
  /** Writes `text` to `out` above the tree (cleared first, then drawn again below it). */
  above(text: string, out: NodeJS.WritableStream): void;
  /** Stops the once-a-second refresh of running durations. */
  close(): void;
}

/**
 * The run's node tree drawn in place on a terminal: the header once, then the rows, redrawn by moving the
 * cursor up over them. Columns have fixed widths and rows are cut to the terminal, so a redraw covers exactly
 * what the last one drew and nothing is left behind above it.
 */
export function liveTree(stream: NodeJS.WriteStream, load: () => NodeRecord[]): LiveTree {
  let lines = 0;
  let last = 0;
  let headed = false;
  const columns = () => stream.columns || 120;
  const draw = (final = false) => {
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const rows = treeRows(load(), now).map((r) => fitRow(r, columns()));
    const head = headed ? '' : `${fitRow(TREE_HEADER, columns())}\n`;
    headed = true;
    const up = lines ? `\x1b[${lines}A\r` : '';
    stream.write(`${head}${up}\x1b[0J${rows.map((r) => `${r}\n`).join('')}`);
    lines = rows.length;
  };
  // Durations of running steps grow between engine events: refresh them.
  const timer = setInterval(() => draw(), 1000);
  timer.unref();
  const above = (text: string, out: NodeJS.WritableStream) => {
    const drawn = lines + (headed ? 1 : 0);
    stream.write(`${drawn ? `\x1b[${drawn}A\r` : ''}\x1b[0J`);
    out.write(text);
    [lines, headed] = [0, false];
    draw(true);
  };
  return { draw, above, close: () => clearInterval(timer) };
}
