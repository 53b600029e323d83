// Colour helpers: the shop picks a brand colour; text on it must still reach WCAG AA (4.5:1).

function channel(value: number): number {
  const c = value / 255;
  return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

export function parseHex(color: string): [number, number, number] | null {
  const match = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!match) return null;
  let hex = match[1];
  if (hex.length === 3) hex = hex.split("").map((c) => c + c).join("");
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

export function luminance(rgb: [number, number, number]): number {
  return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
}

export function contrast(a: [number, number, number], b: [number, number, number]): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const WHITE: [number, number, number] = [255, 255, 255];
const BLACK: [number, number, number] = [0, 0, 0];
export const DEFAULT_PRIMARY = "#0b4f8a";

/** The brand colour (or the default when unreadable) and a text colour that passes AA on it. */
export function brandColors(primary: string | null, text: string | null): {
  primary: string;
  onPrimary: string;
} {
  const rgb = parseHex(primary || "") || parseHex(DEFAULT_PRIMARY)!;
  const hex = "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
  const wanted = parseHex(text || "");
  if (wanted && contrast(rgb, wanted) >= 4.5) {
    return { primary: hex, onPrimary: text!.startsWith("#") ? text! : "#" + text };
  }
  // the shop's text colour is missing or too weak: take black or white, whichever reads better
  return { primary: hex, onPrimary: contrast(rgb, WHITE) >= contrast(rgb, BLACK) ? "#ffffff" : "#000000" };
}
