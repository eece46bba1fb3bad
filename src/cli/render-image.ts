/**
 * Draws a grayscale image in a terminal: two pixel rows per character cell with the upper-half block and
 * 24-bit colours, or an ASCII ramp when colours are off (pipes, NO_COLOR).
 */
export function renderImage(pixels: Uint8Array, width: number, height: number, color: boolean): string {
  const lines: string[] = [];
  if (color) {
    for (let y = 0; y < height; y += 2) {
      let line = '';
      for (let x = 0; x < width; x++) {
        const top = pixels[y * width + x] ?? 0;
        const bottom = y + 1 < height ? (pixels[(y + 1) * width + x] ?? 0) : 0;
        line += `\x1b[38;2;${top};${top};${top}m\x1b[48;2;${bottom};${bottom};${bottom}m\u2580`;
      }
      lines.push(`${line}\x1b[0m`);
    }
    return lines.join('\n');
  }
  const ramp = ' .:-=+*#%@';
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x] ?? 0;
      const c = ramp[Math.min(ramp.length - 1, Math.floor((v / 256) * ramp.length))] ?? ' ';
      line += c + c; // cells are twice as tall as wide
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}
