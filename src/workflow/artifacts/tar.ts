// A deterministic tar (POSIX ustar, with pax records for long names) of a file or a folder: entries sorted,
// times, owners and groups zeroed, so the same content always makes the same bytes and so the same digest
// (content addressing depends on it). Read back by the same module; entries that would land outside the
// destination are refused. Regular files, folders and symbolic links; other kinds are refused by name.
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

const BLOCK = 512;

/** One member of an archive. */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, never absolute. */
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  linkname?: string;
}

/**
 * The entries of `path` (a file, or a folder and everything under it) named from `root`. A symbolic link at
 * `path` itself is followed (a folder written with src/durable is a link to its current content); links
 * inside are kept as links.
 */
export function collectEntries(path: string, root: string, follow = true): TarEntry[] {
  const st = follow ? statSync(path) : lstatSync(path);
  const mode = st.mode & 0o7777;
  if (st.isSymbolicLink()) return [{ name: root, type: 'symlink', mode, linkname: readlinkSync(path) }];
  if (st.isFile()) return [{ name: root, type: 'file', mode, data: readFileSync(path) }];
  if (!st.isDirectory()) throw new Error(`${path} is neither a file, a folder nor a symbolic link`);
  const children = readdirSync(path).sort();
  return [
    { name: root, type: 'dir', mode },
    ...children.flatMap((c) => collectEntries(join(path, c), posix.join(root, c), false)),
  ];
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, e: Pick<TarEntry, 'type' | 'mode' | 'linkname'>, size: number, flag?: string) {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136);
  h.write(flag ?? { file: '0', dir: '5', symlink: '2' }[e.type], 156);
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'binary');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** A pax record `LEN key=value\n`, its length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The archive bytes of `entries`, in the given order. */
export function packTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.name}/` : e.name;
    const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(e.linkname ?? '') > 100;
    if (long) {
      const pax = Buffer.from(
        paxRecord('path', name) + (e.linkname ? paxRecord('linkpath', e.linkname) : ''),
      );
      parts.push(header('PaxHeader', { type: 'file', mode: 0o644 }, pax.length, 'x'), pax, pad(pax.length));
    }
    const size = e.type === 'file' ? e.data!.length : 0;
    parts.push(header(long ? name.slice(0, 99) : name, e, size));
    if (size) parts.push(e.data!, pad(size));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

const field = (b: Buffer, at: number, len: number) => b.toString('utf8', at, at + len).replace(/\0.*$/s, '');

/** The entries of an archive made by packTar (or any plain ustar/pax/GNU tar of files, folders, links). */
export function unpackTar(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let at = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (at + BLOCK <= tar.length) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(h, 124, 12).trim() || '0', 8);
    const flag = String.fromCharCode(h[156]!);
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x') {
      for (const m of data.toString('utf8').matchAll(/\d+ (\w+)=([^\n]*)\n/g)) {
        if (m[1] === 'path') longName = m[2];
        if (m[1] === 'linkpath') longLink = m[2];
      }
      continue;
    }
    if (flag === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    const prefix = field(h, 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    const linkname = longLink ?? field(h, 157, 100);
    longName = longLink = undefined;
    name = name.replace(/\/+$/, '').replace(/^\.\//, '');
    const mode = parseInt(field(h, 100, 8).trim() || '644', 8);
    const type =
      flag === '5' ? 'dir' : flag === '2' ? 'symlink' : flag === '0' || flag === '\0' ? 'file' : null;
    if (!type) throw new Error(`archive entry ${name}: unsupported kind "${flag}"`);
    if (name === '' || name === '.') continue;
    if (posix.isAbsolute(name) || name.split('/').includes('..'))
      throw new Error(`archive entry ${name} would be written outside the destination`);
    out.push({
      name,
      type,
      mode,
      ...(type === 'file' ? { data: Buffer.from(data) } : {}),
      ...(type === 'symlink' ? { linkname } : {}),
    });
  }
  return out;
}
