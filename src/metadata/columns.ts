// Each record's columns declared once (Argo keeps one struct with `db:` tags): a table of field, column and
// codec drives both reading a row into a record and turning a partial record into the columns to update.
import type Database from 'better-sqlite3';

export type Row = Record<string, unknown>;

/** How a field is stored: `text` and `number` as themselves, `json` as JSON text, `bool` as 0/1. */
export type Codec = 'text' | 'number' | 'json' | 'bool';

/**
 * A column as a table declares it: its codec, then `?` when a NULL reads as null, or ` key` for a primary
 * key field (read, never updated). Without `?`, text and number read as String/Number of the value, and
 * json (an object) reads a NULL as `{}`. The column is the field's name in snake_case.
 */
export type ColumnSpec = Codec | `${Exclude<Codec, 'bool'>}?` | `${'text' | 'number'} key`;

/** A field stored across several columns: it reads and writes them itself. */
export interface CompositeColumn {
  read: (row: Row) => unknown;
  /** The columns to set for a value (null included). */
  write: (value: unknown) => Row;
}

/** A simple column as columnTable resolves it. */
type Column = { field: string; column: string; codec: Codec } & Record<'nullable' | 'key', boolean>;

/** A record's columns, built once by columnTable. */
export type ColumnTable<R> = ReadonlyArray<Column | (CompositeColumn & { field: string })> & {
  /** Never set: ties the table to its record type, so readRecord and updateRow check what they are given. */
  readonly of?: R;
};

/** Declares every field of R (the mapped type makes leaving one out a compile error). */
export function columnTable<R>(spec: {
  [K in keyof R & string]-?: ColumnSpec | CompositeColumn;
}): ColumnTable<R> {
  return Object.entries(spec as Record<string, ColumnSpec | CompositeColumn>).map(([field, s]) =>
    typeof s === 'string'
      ? {
          field,
          column: field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
          codec: s.split(/[ ?]/)[0] as Codec,
          nullable: s.endsWith('?'),
          key: s.endsWith(' key'),
        }
      : { field, ...s },
  );
}

const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);

function readColumn(c: Column, v: unknown): unknown {
  switch (c.codec) {
    case 'bool':
      return Boolean(v);
    case 'json':
      return parse(v) ?? (c.nullable ? null : {});
    case 'text':
      return c.nullable ? (v ?? null) : String(v);
    case 'number':
      return c.nullable ? (v ?? null) : Number(v);
  }
}

function writeColumn(c: Column, v: unknown): unknown {
  if (c.codec === 'json') return v === null || v === undefined ? null : JSON.stringify(v);
  if (c.codec === 'bool') return v ? 1 : 0;
  return v;
}

/** A stored row as record R. */
export function readRecord<R>(table: ColumnTable<R>, row: Row): R {
  const out: Row = {};
  for (const c of table) out[c.field] = 'read' in c ? c.read(row) : readColumn(c, row[c.column]);
  return out as R;
}

/** The columns a partial record sets: fields left undefined (and key fields) keep their stored value. */
export function columnsOf<R>(table: ColumnTable<R>, patch: Partial<R>): Row {
  const out: Row = {};
  for (const c of table) {
    const v = (patch as Row)[c.field];
    if (v === undefined) continue;
    if ('write' in c) Object.assign(out, c.write(v));
    else if (!c.key) out[c.column] = writeColumn(c, v);
  }
  return out;
}

/** `UPDATE table SET <patch's columns> WHERE where` (named parameters `keys`); nothing when nothing is set. */
export function updateRow<R>(
  db: Database.Database,
  table: string,
  columns: ColumnTable<R>,
  where: string,
  keys: Row,
  patch: Partial<R>,
): void {
  const set = Object.entries(columnsOf(columns, patch));
  if (set.length === 0) return;
  const params: Row = { ...keys };
  for (const [k, v] of set) params[`v_${k}`] = v;
  db.prepare(`UPDATE ${table} SET ${set.map(([k]) => `${k} = @v_${k}`).join(', ')} WHERE ${where}`).run(
    params,
  );
}
